"""Export a training run: merge its LoRA adapter into the 16-bit base, convert to GGUF with
llama.cpp's own converter, quantize with llama.cpp, export the adapter alone as a GGUF LoRA, and
verify every file against the merged model. Each file is written under a temporary name and
renamed only once complete; the result goes to `export.json` (ExportManifest).

    python -m inference.export RUN_DIR [--checkpoint NAME] --quant f16 q8_0 q4_k_m --out DIR [--no-lora]

The command is a job like training: it writes its progress to DIR/status.json and its output to
DIR/export.log, exports one adapter of a run at a time (a lock in the run's folder), and stops at the
next step on SIGTERM, Ctrl-C or a DIR/stop file. The Export tab launches exactly this command.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from core import artifacts, fileio
from core.artifacts import QUANTS, ExportedFile, ExportManifest, ExportRequest, PromptContract
from core.errors import UserError
from core.exports import ExportDir
from core.i18n import Text, env_lang, text_in
from core.jobs import StopRequest, exclusive, failures_recorded, tee_output
from core.runs import RunDir
from core.workspace import FINAL, DatasetPaths, ExportPaths, Workspace
from data.chat_format import ChatTemplate, ollama_template
from inference import llama
from inference.verify import Reference, verify
from models.gguf import convert_file
from models.resolve import resolve_model_path

SENTENCEPIECE_FILES = ("tokenizer.model",)
BYTES_PER_PARAMETER = {"f16": 2.0, "q8_0": 1.07, "q6_k": 0.83, "q5_k_m": 0.71, "q4_k_m": 0.61}
BUSY = Text("An export of this run is already running ({holder}); wait for it, or stop it in the Export tab.",
            "이 실행을 이미 내보내는 중입니다({holder}). 끝날 때까지 기다리거나 내보내기 탭에서 중지하세요.")

Progress = Callable[[str, float], None]


class Stopped(Exception):
    """A stop was asked for; the export ends at the step it reached."""


def export(request: ExportRequest, workspace: Workspace, progress: Progress = lambda step, share: None,
           stop: StopRequest | None = None) -> ExportManifest:
    run = RunDir(Path(request.run_dir))
    adapter_dir = _adapter_dir(run, request.checkpoint)
    train_config = run.config()
    base_dir = Path(resolve_model_path(train_config.base_model, workspace))
    out = ExportPaths(Path(request.out_dir))
    out.path.mkdir(parents=True, exist_ok=True)
    _check_disk(base_dir, out.path, request)
    started, timings = time.time(), {}

    def step(name: str, share: float) -> None:
        if stop is not None and stop.requested:
            raise Stopped(name)
        progress(name, share)

    step("merge", 0.05)
    clock = time.perf_counter()
    merge(base_dir, adapter_dir, out.merged, train_config.trust_remote_code)
    timings["merge_s"] = round(time.perf_counter() - clock, 1)

    step("convert", 0.25)
    clock = time.perf_counter()
    convert_file(out.merged, out.gguf("f16"))
    timings["convert_s"] = round(time.perf_counter() - clock, 1)

    made = {"f16": out.gguf("f16")}
    clock = time.perf_counter()
    quants = [kind for kind in request.quants if kind != "f16"]
    for index, kind in enumerate(quants):
        step(f"quantize {kind}", 0.35 + 0.2 * index / max(1, len(quants)))
        with fileio.atomic_path(out.gguf(kind)) as tmp:
            llama.quantize(out.gguf("f16"), tmp, kind)
        made[kind] = out.gguf(kind)
    timings["quantize_s"] = round(time.perf_counter() - clock, 1)

    step("verify", 0.6)
    clock = time.perf_counter()
    contract = prompt_contract(run, request.checkpoint, adapter_dir, workspace)
    reference = Reference(out.merged, contract)
    results = [_verified(path, kind, reference) for kind, path in made.items() if kind in request.quants]
    timings["verify_s"] = round(time.perf_counter() - clock, 1)
    if "f16" not in request.quants:
        out.gguf("f16").unlink()
    if request.lora:
        step("LoRA", 0.8)
        clock = time.perf_counter()
        results.append(_export_lora(base_dir, adapter_dir, out, reference))
        timings["lora_s"] = round(time.perf_counter() - clock, 1)

    template = ChatTemplate.of_tokenizer(_tokenizer(out.merged))
    for result in results:
        _write_modelfile(out.path / result.file, contract, template, result.applies_to)
    manifest = ExportManifest(run=str(run.path), checkpoint=request.checkpoint or FINAL,
                              base_model=train_config.base_model, prompt=contract, created_at=started,
                              timings=timings, files=results,
                              verified=all(result.verification.passed for result in results))
    artifacts.write(out.manifest, manifest)
    progress("done", 1.0)
    return manifest


def prompt_contract(run: RunDir, checkpoint: str | None, adapter_dir: Path, workspace: Workspace) -> PromptContract:
    """How the adapter was trained to be prompted: from the run; for a run that did not record it,
    derived from the adapter's tokenizer, the run's config and its dataset."""
    contract = run.prompt_contract(checkpoint)
    if contract is not None:
        return contract
    from core.artifacts import DatasetReport
    from data.chat_format import contract_for

    config = run.config()
    report = artifacts.read(DatasetPaths(workspace.relocate(config.dataset)).report, DatasetReport)
    return contract_for(_tokenizer(adapter_dir), config.prompt_format, report.speakers if report else "blog")


def _tokenizer(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def merge(base_dir: Path, adapter_dir: Path, merged_dir: Path, trust_remote_code: bool = False) -> None:
    """The adapter merged into the 16-bit base (never into a 4-bit one), as a Hugging Face folder."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # The dtype the base was saved in: bf16 for Llama-3-8B (16 GB, not 32 GB in fp32), fp32 for the demo.
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype="auto", use_safetensors=True,
                                                trust_remote_code=trust_remote_code)
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    with fileio.atomic_dir(merged_dir, replaces=lambda folder: True) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        AutoTokenizer.from_pretrained(adapter_dir).save_pretrained(tmp)
        for name in SENTENCEPIECE_FILES:  # transformers 5 saves tokenizer.json only; llama.cpp reads Gemma's .model
            if (Path(base_dir) / name).is_file() and not (tmp / name).exists():
                shutil.copy2(Path(base_dir) / name, tmp / name)


def _export_lora(base_dir: Path, adapter_dir: Path, out: ExportPaths, reference: Reference) -> ExportedFile:
    """The adapter as a GGUF LoRA, and the base as f16 GGUF to apply it on; verified together."""
    convert_file(adapter_dir, out.lora_gguf, kind="lora", extra=["--base", str(base_dir)])
    convert_file(base_dir, out.base_gguf)
    result = _verified(out.lora_gguf, "lora", reference, out.base_gguf)
    return result.model_copy(update={"applies_to": out.base_gguf.name})


def _verified(path: Path, kind: str, reference: Reference, base_path: Path | None = None) -> ExportedFile:
    if base_path is not None:
        verification = verify(base_path, kind, reference, lora_path=path)
    else:
        verification = verify(path, kind, reference)
    artifacts.write(ExportPaths.verify_report(path), verification)
    return ExportedFile(kind=kind, file=path.name, size_bytes=path.stat().st_size, verification=verification)


def _write_modelfile(gguf_path: Path, contract: PromptContract, template: ChatTemplate | None,
                     base_name: str | None = None) -> None:
    """An Ollama Modelfile beside the GGUF, with the prompt format and stops the model was trained with."""
    stops = "".join(f'PARAMETER stop "{_ollama_escape(stop)}"\n' for stop in contract.stop)
    source = f"FROM ./{gguf_path.name}\n"
    if base_name:  # a GGUF LoRA is applied on the base model
        source = f"FROM ./{base_name}\nADAPTER ./{gguf_path.name}\n"
    text = f'{source}TEMPLATE """{ollama_template(contract, template)}"""\n{stops}PARAMETER temperature 0.7\n'
    fileio.write_text(ExportPaths.modelfile(gguf_path), text)


def _ollama_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _adapter_dir(run: RunDir, checkpoint: str | None) -> Path:
    if checkpoint and checkpoint != FINAL:
        if not run.has_adapter(checkpoint):
            names = ", ".join(run.checkpoint_names())
            raise UserError(f"{run.name} has no checkpoint {checkpoint}; it has {names or 'none'}.",
                            ko=f"{run.name}에는 체크포인트 {checkpoint}이(가) 없습니다. 있는 체크포인트: {names or '없음'}.")
        return run.files.adapter_dir(checkpoint)
    if not run.has_adapter():
        raise UserError(f"{run.name} has no final adapter yet (state: {run.state()}); export one of its checkpoints "
                        "instead.",
                        ko=f"{run.name}에는 아직 최종 어댑터가 없습니다 (상태: {run.state()}). 대신 체크포인트 중 하나를 "
                           "내보내세요.")
    return run.files.adapter


def _check_disk(base_dir: Path, out_dir: Path, request: ExportRequest) -> None:
    """Refuses early when the files would not fit: an 8B f16 GGUF alone is 16 GB."""
    weights = sum(p.stat().st_size for p in base_dir.glob("*.safetensors"))
    parameters = weights / 2 if weights else 0
    # Written at once, at most: the merged folder, the f16 GGUF (and the base's, for the LoRA), the quants.
    need = weights + parameters * (BYTES_PER_PARAMETER["f16"] * (2 if request.lora else 1) +
                                       sum(BYTES_PER_PARAMETER[q] for q in request.quants if q != "f16"))
    free = shutil.disk_usage(out_dir).free
    if need > free:
        raise UserError(f"Not enough disk space for this export: about {need / 1e9:.1f} GB needed, "
                        f"{free / 1e9:.1f} GB free in {out_dir}. Free some space or choose fewer formats.",
                        ko=f"내보내기에 필요한 디스크 공간이 부족합니다. 약 {need / 1e9:.1f} GB가 필요한데 "
                           f"{out_dir}에 남은 공간은 {free / 1e9:.1f} GB입니다. 공간을 확보하거나 형식을 줄여 고르세요.")


def is_export_dir(folder: Path) -> bool:
    """A folder an export wrote (or is writing): it may be written into again."""
    paths = ExportPaths(folder)
    return any(path.is_file() for path in (paths.manifest, paths.status, paths.log, paths.process_log))


def run_job(request: ExportRequest, workspace: Workspace, say: Callable[[str], None]) -> ExportManifest | None:
    """The export as a job: the run's export lock, progress in the export folder's status, a stop at
    the next step when asked. None when it was stopped; UserError (recorded as failed) when it failed."""
    run, target = RunDir(Path(request.run_dir)), ExportDir(Path(request.out_dir))
    fileio.check_replaceable(target.path, is_export_dir)
    with exclusive(run.files.export_lock, BUSY):
        target.path.mkdir(parents=True, exist_ok=True)
        stop = StopRequest(target.files.stop)  # a stop asked for before this process started counts too
        checkpoint = request.checkpoint or FINAL
        target.write_status("running", pid=os.getpid(), started_at=time.time(), run=run.name, checkpoint=checkpoint,
                            phase="start", share=0.0)

        def progress(step: str, share: float) -> None:
            target.write_status("running", phase=step, share=share)
            say(f"[{share:4.0%}] {step}")

        try:
            with failures_recorded(target.write_status):
                manifest = export(request, workspace, progress, stop)
        except Stopped as stopped:
            target.write_status("stopped", phase=str(stopped))
            target.files.stop.unlink(missing_ok=True)
            return None
        target.write_status("completed", phase="done", share=1.0)
        return manifest


STEPS_KO = {"merge": "병합", "convert": "변환", "quantize": "양자화", "verify": "검증", "LoRA": "LoRA", "lora": "LoRA", "done": "완료",
            "start": "시작"}


def step_name(step: str, korean: bool) -> str:
    """A progress step as the command line shows it: `quantize q8_0` is `양자화 q8_0` in Korean."""
    if not korean:
        return step
    word, _, rest = step.partition(" ")
    return " ".join(part for part in (STEPS_KO.get(word, word), rest) if part)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--checkpoint", default=None, metavar="NAME")
    parser.add_argument("--quant", nargs="+", default=["f16", "q8_0", "q4_k_m"], choices=QUANTS)
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--no-lora", dest="lora", action="store_false")
    parser.add_argument("--evaluate", action="store_true",
                        help="then evaluate every file beside the merged model and the base on the run's held-out "
                             "conversations (into OUT/evaluation)")
    parser.add_argument("--workspace", default=None)
    args = parser.parse_args(argv)
    lang = env_lang()
    request = ExportRequest(run_dir=str(Path(args.run_dir).resolve()), checkpoint=args.checkpoint, quants=args.quant,
                            out_dir=str(Path(args.out).resolve()), lora=args.lora, evaluate=args.evaluate)
    try:
        if not Path(request.run_dir).is_dir():
            raise UserError(f"{args.run_dir} is not a run folder.", ko=f"{args.run_dir}은(는) 실행 폴더가 아닙니다.")
        fileio.check_replaceable(Path(request.out_dir), is_export_dir)
        Path(request.out_dir).mkdir(parents=True, exist_ok=True)
        tee_output(ExportPaths(Path(request.out_dir)).log)
        manifest = run_job(request, Workspace.open(args.workspace),
                           lambda line: print(_localized_progress(line, lang), flush=True))
    except UserError as err:
        print(f"error: {err.text()}", file=sys.stderr)
        _record_refusal(ExportDir(Path(request.out_dir)), err)
        return 1
    if manifest is None:
        print(text_in(Text("stopped", "중지됨"), lang))
        return 0
    for result in manifest.files:
        check = result.verification
        size = f"{result.file}: {result.size_bytes / 2**20:.1f} MiB"
        print(text_in(Text(f"{size}, {'verified' if check.passed else 'FAILED verification'} "
                           f"(top-1 agreement {check.top1_agreement:.0%})",
                           f"{size}, {'검증 통과' if check.passed else '검증 실패'} "
                           f"(top-1 일치율 {check.top1_agreement:.0%})"), lang))
    if request.evaluate:
        from inference import evaluate

        try:
            workspace = Workspace.open(args.workspace)
            evaluation = evaluate.run_job(evaluate.export_request(ExportDir(Path(request.out_dir)), workspace),
                                          workspace, lambda line: print(line, flush=True))
        except UserError as err:
            print(f"error: {err.text()}", file=sys.stderr)
            return 1
        if evaluation is not None:
            print(evaluate.table(evaluation))
    return 0 if manifest.verified else 3


def _record_refusal(target: ExportDir, err: UserError) -> None:
    """The app marks an export running with this process's pid before it starts: a refusal before
    the job began (another export of the run holds the lock) ends it as failed with that reason."""
    try:
        status = target.status()
    except UserError:
        return
    if status is not None and status.state == "running" and status.pid == os.getpid():
        target.write_status("failed", error=err)


def _localized_progress(line: str, lang: str) -> str:
    share, _, step = line.partition("] ")
    return f"{share}] {step_name(step, lang == 'ko')}"


if __name__ == "__main__":
    sys.exit(main())
