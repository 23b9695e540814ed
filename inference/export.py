"""Export a training run: merge its LoRA adapter into the 16-bit base, convert to GGUF with
llama.cpp's own converter, quantize with llama.cpp, export the adapter alone as a GGUF LoRA, and
verify every file against the merged model. Each file is written under a temporary name and
renamed only once complete; results go to `export.json`.

    python -m inference.export RUN_DIR [--checkpoint NAME] --quant f16 q8_0 q4_k_m --out DIR [--no-lora]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from core import fileio
from core.errors import UserError
from core.i18n import Text, env_lang, text_in
from core.workspace import Workspace
from inference import llama
from inference.prompt import format_of_adapter
from inference.verify import Reference, verify
from tuning.config import TrainConfig
from tuning.runs import RunDir

QUANTS = ("f16", "q8_0", "q4_k_m", "q5_k_m", "q6_k")
Quant = Literal["f16", "q8_0", "q4_k_m", "q5_k_m", "q6_k"]
BYTES_PER_PARAMETER = {"f16": 2.0, "q8_0": 1.07, "q6_k": 0.83, "q5_k_m": 0.71, "q4_k_m": 0.61}
ROOT = Path(__file__).resolve().parent.parent


class ExportConfig(BaseModel):
    run_dir: str
    checkpoint: str | None = Field(None, description="a checkpoint-N of the run; default: its final adapter")
    quants: list[Quant] = Field(default_factory=lambda: ["f16", "q8_0", "q4_k_m"], min_length=1)
    out_dir: str
    lora: bool = Field(True, description="also export the adapter as a GGUF LoRA, with the base model as GGUF")


Progress = Callable[[str, float], None]


def export(config: ExportConfig, workspace: Workspace, progress: Progress = lambda step, share: None) -> dict:
    run = RunDir(Path(config.run_dir))
    adapter_dir = _adapter_dir(run, config.checkpoint)
    train_config = TrainConfig.load(run.config_path)
    from tuning.backends import resolve_model_path

    base_dir = Path(resolve_model_path(train_config.base_model, workspace))
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_disk(base_dir, out_dir, config)
    started = time.time()
    timings: dict[str, float] = {}

    progress("merge", 0.05)
    merged_dir = out_dir / "merged"
    clock = time.perf_counter()
    merge(base_dir, adapter_dir, merged_dir, train_config.trust_remote_code)
    timings["merge_s"] = round(time.perf_counter() - clock, 1)

    progress("convert", 0.25)
    clock = time.perf_counter()
    f16_path = out_dir / "model-f16.gguf"
    convert(merged_dir, f16_path)
    timings["convert_s"] = round(time.perf_counter() - clock, 1)

    files = {"f16": f16_path}
    clock = time.perf_counter()
    for index, kind in enumerate(kind for kind in config.quants if kind != "f16"):
        progress(f"quantize {kind}", 0.35 + 0.2 * index / max(1, len(config.quants)))
        files[kind] = out_dir / f"model-{kind}.gguf"
        with fileio.atomic_path(files[kind]) as tmp:
            llama.quantize(f16_path, tmp, kind)
    timings["quantize_s"] = round(time.perf_counter() - clock, 1)

    progress("verify", 0.6)
    reference = Reference(merged_dir)
    results = []
    for kind, path in files.items():
        if kind in config.quants:
            results.append(_verified(path, kind, reference))
    if "f16" not in config.quants:
        f16_path.unlink()
    if config.lora:
        progress("LoRA", 0.8)
        results.append(_export_lora(base_dir, adapter_dir, out_dir, reference))

    fmt = _prompt_format(run, adapter_dir, train_config)
    for result in results:
        _write_modelfile(out_dir / result["file"], fmt, result.get("applies_to"))
    summary = {
        "run": str(run.path), "checkpoint": config.checkpoint or "final", "base_model": train_config.base_model,
        "prompt": fmt, "created_at": started, "timings": timings, "files": results,
        "verified": all(r["verification"]["passed"] for r in results if "verification" in r),
    }
    fileio.write_json(out_dir / "export.json", summary)
    progress("done", 1.0)
    return summary


def merge(base_dir: Path, adapter_dir: Path, merged_dir: Path, trust_remote_code: bool = False) -> None:
    """The adapter merged into the 16-bit base (never into a 4-bit one), as a Hugging Face folder."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # The dtype the base was saved in: bf16 for Llama-3-8B (16 GB, not 32 GB in fp32), fp32 for the demo.
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype="auto", use_safetensors=True,
                                                trust_remote_code=trust_remote_code)
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    with fileio.atomic_dir(merged_dir) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        AutoTokenizer.from_pretrained(adapter_dir).save_pretrained(tmp)


def convert(model_dir: Path, gguf_path: Path, kind: str = "hf", extra: list[str] = ()) -> None:
    """llama.cpp's converter in a subprocess (inference/convert_gguf.py), writing f16."""
    with fileio.atomic_path(gguf_path) as tmp:
        command = [sys.executable, "-m", "inference.convert_gguf", kind, str(model_dir), "--outfile", str(tmp),
                   "--outtype", "f16", *extra]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-5:])
            raise UserError(f"llama.cpp's converter failed on {model_dir.name}:\n{tail}",
                            ko=f"llama.cpp 변환기가 {model_dir.name}을(를) 변환하지 못했습니다:\n{tail}")


def _export_lora(base_dir: Path, adapter_dir: Path, out_dir: Path, reference: Reference) -> dict:
    """The adapter as a GGUF LoRA, and the base as f16 GGUF to apply it on; verified together."""
    lora_path, base_path = out_dir / "lora-f16.gguf", out_dir / "base-f16.gguf"
    convert(adapter_dir, lora_path, kind="lora", extra=["--base", str(base_dir)])
    convert(base_dir, base_path)
    result = _verified(lora_path, "lora", reference, base_path)
    result["applies_to"] = base_path.name
    return result


def _verified(path: Path, kind: str, reference: Reference, base_path: Path | None = None) -> dict:
    if base_path is not None:
        verification = verify(base_path, kind, reference, lora_path=path)
    else:
        verification = verify(path, kind, reference)
    fileio.write_json(path.with_suffix(".verify.json"), verification)
    return {"kind": kind, "file": path.name, "size_bytes": path.stat().st_size, "verification": verification}


def _write_modelfile(gguf_path: Path, fmt: dict, base_name: str | None = None) -> None:
    """An Ollama Modelfile beside the GGUF, with the prompt format and stops the model was trained with."""
    if fmt["prompt_format"] == "chat_template":
        template = ('{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>'
                    '{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n')
    else:
        template = ('{{ range .Messages }}{{ if eq .Role "assistant" }}bot: {{ .Content }}\n'
                    '{{ else }}' + fmt["user_label"] + ': {{ .Content }}\n{{ end }}{{ end }}bot:')
    stops = "".join(f'PARAMETER stop "{_ollama_escape(stop)}"\n' for stop in fmt["stop"])
    source = f"FROM ./{gguf_path.name}\n"
    if base_name:  # a GGUF LoRA is applied on the base model
        source = f"FROM ./{base_name}\nADAPTER ./{gguf_path.name}\n"
    text = f'{source}TEMPLATE """{template}"""\n{stops}PARAMETER temperature 0.7\n'
    fileio.write_text(gguf_path.with_name(f"{gguf_path.stem}.Modelfile"), text)


def _ollama_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _prompt_format(run: RunDir, adapter_dir: Path, train_config: TrainConfig) -> dict:
    """How the model was trained to be prompted: chat and the Modelfiles use exactly this. Checkpoints
    carry no training.json; the run's config and dataset say the same."""
    described = adapter_dir if (adapter_dir / "training.json").is_file() else run.adapter
    return format_of_adapter(described, train_config.dataset, train_config.prompt_format).model_dump()


def _adapter_dir(run: RunDir, checkpoint: str | None) -> Path:
    if checkpoint:
        path = run.checkpoints / checkpoint
        if not (path / "adapter_config.json").is_file():
            names = ", ".join(run.checkpoint_names())
            raise UserError(f"{run.name} has no checkpoint {checkpoint}; it has {names or 'none'}.",
                            ko=f"{run.name}에는 체크포인트 {checkpoint}이(가) 없습니다. 있는 체크포인트: {names or '없음'}.")
        return path
    if not (run.adapter / "adapter_config.json").is_file():
        state = run.status().get("state")
        raise UserError(f"{run.name} has no final adapter yet (state: {state}); export one of its checkpoints instead.",
                        ko=f"{run.name}에는 아직 최종 어댑터가 없습니다 (상태: {state}). 대신 체크포인트 중 하나를 내보내세요.")
    return run.adapter


def _check_disk(base_dir: Path, out_dir: Path, config: ExportConfig) -> None:
    """Refuses early when the files would not fit: an 8B f16 GGUF alone is 16 GB."""
    weights = sum(p.stat().st_size for p in base_dir.glob("*.safetensors"))
    parameters = weights / 2 if weights else 0
    # Written at once, at most: the merged folder, the f16 GGUF (and the base's, for the LoRA), the quants.
    need = weights + parameters * (BYTES_PER_PARAMETER["f16"] * (2 if config.lora else 1) +
                                       sum(BYTES_PER_PARAMETER[q] for q in config.quants if q != "f16"))
    free = shutil.disk_usage(out_dir).free
    if need > free:
        raise UserError(f"Not enough disk space for this export: about {need / 1e9:.1f} GB needed, "
                        f"{free / 1e9:.1f} GB free in {out_dir}. Free some space or choose fewer formats.",
                        ko=f"내보내기에 필요한 디스크 공간이 부족합니다. 약 {need / 1e9:.1f} GB가 필요한데 "
                           f"{out_dir}에 남은 공간은 {free / 1e9:.1f} GB입니다. 공간을 확보하거나 형식을 줄여 고르세요.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--checkpoint", default=None, metavar="NAME")
    parser.add_argument("--quant", nargs="+", default=["f16", "q8_0", "q4_k_m"], choices=QUANTS)
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--no-lora", dest="lora", action="store_false")
    parser.add_argument("--workspace", default=None)
    args = parser.parse_args(argv)
    config = ExportConfig(run_dir=str(Path(args.run_dir).resolve()), checkpoint=args.checkpoint, quants=args.quant,
                          out_dir=str(Path(args.out).resolve()), lora=args.lora)
    lang = env_lang()
    korean = lang == "ko"
    try:
        summary = export(config, Workspace.open(args.workspace),
                         progress=lambda step, share: print(f"[{share:4.0%}] {step_name(step, korean)}", flush=True))
    except UserError as err:
        print(f"error: {err.text()}", file=sys.stderr)
        return 1
    for result in summary["files"]:
        passed, top1 = result["verification"]["passed"], result["verification"]["top1_agreement"]
        size = f"{result['file']}: {result['size_bytes'] / 2**20:.1f} MiB"
        print(text_in(Text(f"{size}, {'verified' if passed else 'FAILED verification'} (top-1 agreement {top1:.0%})",
                           f"{size}, {'검증 통과' if passed else '검증 실패'} (top-1 일치율 {top1:.0%})"), lang))
    return 0 if summary["verified"] else 3


STEPS_KO = {"merge": "병합", "convert": "변환", "quantize": "양자화", "verify": "검증", "LoRA": "LoRA", "done": "완료"}


def step_name(step: str, korean: bool) -> str:
    """A progress step as the command line shows it: `quantize q8_0` is `양자화 q8_0` in Korean."""
    if not korean:
        return step
    word, _, rest = step.partition(" ")
    return " ".join(part for part in (STEPS_KO.get(word, word), rest) if part)


if __name__ == "__main__":
    sys.exit(main())
