"""Does a fine-tune talk like the person, and which checkpoint is best? Every model asked for is
measured on a prepared dataset's held-out (validation) conversations:

1. the loss and perplexity of the bot's turns only, in the prompt format the model was trained with
   (GGUF files through llama.cpp, so a quantization's cost shows; adapters through transformers);
2. that loss by turn depth (the bot's 1st, 2nd, … answer of a conversation): the drift as a chat goes on;
3. its replies to the same held-out contexts (same seed for every model), beside the real ones;
4. the style of those replies against the real person's (data.style) and one distance.

    python -m inference.evaluate --dataset DIR --model SPEC [--model SPEC ...] --out DIR \\
        [--limit N] [--seed S] [--max-new-tokens N] [--workspace DIR]

SPEC is anything the Chat tab chats with: FILE.gguf, FILE.gguf+LORA.gguf, a workspace model id
(export:NAME/FILE.gguf, base-gguf:…, run:RUN/checkpoint-N, file:…), a run folder or `run:RUN` (every
checkpoint and the final adapter, for the checkpoint curve), an adapter folder, a model folder, or
base:MODEL (the base model through transformers, prompted as the fine-tunes beside it).
"""
from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core import artifacts, fileio
from core.artifacts import (AdapterInfo, DatasetExample, DatasetReport, DepthLoss, Evaluation, EvaluationContext,
                            EvaluationRequest, ExportManifest, ModelEvaluation, PromptContract, StyleStats)
from core.errors import UserError
from core.evaluations import EvaluationDir
from core.exports import ExportDir
from core.i18n import Text, env_lang, text_in
from core.jobs import StopRequest, failures_recorded, tee_output
from core.runs import RunDir, checkpoint_step_of_name
from core.workspace import FINAL, DatasetPaths, ExportPaths, RunPaths, Workspace
from data.chat_format import IGNORE, contract_for, encode_for_training, lines_of
from data.style import style_distance, style_of
from inference import llama
from inference.catalog import chat_models, run_contract
from inference.chat import ChatModelSpec, GenerationSettings, ModelCache, chat_stream, context_length, gguf_spec
from models.resolve import load_tokenizer, resolve_model_path
from tuning.dataset import load_split

LOSS_CONTEXT = 1024  # tokens, the blog post's max length: the conversations' loss is over at most this many
Progress = Callable[[str, str, float], None]  # model label, phase, share of the whole evaluation


class Stopped(Exception):
    """A stop was asked for; the models finished so far are kept."""


@dataclass(frozen=True)
class Candidate:
    """A model to evaluate, as asked for, and what to load."""

    asked: str
    spec: ChatModelSpec
    run: str | None = None
    step: int | None = None
    prompt_known: bool = True  # False for a base model: it is prompted as the fine-tunes beside it


# --- which models ---------------------------------------------------------------------------------


def candidates(asked: list[str], workspace: Workspace) -> list[Candidate]:
    """Each SPEC as the models it names (a run names each of its adapters); a base model without a
    prompt contract of its own takes the first fine-tune's."""
    catalog = chat_models(workspace)
    found: list[Candidate] = []
    for text in asked:
        resolved = _resolve(text.strip(), workspace, catalog)
        found += resolved if resolved is not None else [Candidate(text, _from_catalog(text, catalog))]
    known = next((candidate.spec.prompt for candidate in found if candidate.prompt_known), None)
    if known is not None:
        found = [candidate if candidate.prompt_known else
                 Candidate(candidate.asked, candidate.spec.model_copy(update={"prompt": known}), prompt_known=True)
                 for candidate in found]
    return found


def _resolve(text: str, workspace: Workspace, catalog: dict[str, ChatModelSpec]) -> list[Candidate] | None:
    if text.startswith("base:"):
        model = text.removeprefix("base:")
        spec = ChatModelSpec(id=text, label=f"base · {model}", kind="hf", base_model=model)
        return [Candidate(text, spec, prompt_known=False)]
    if text.startswith("run:"):
        name, _, adapter = text.removeprefix("run:").partition("/")
        return _run_adapters(text, RunDir(workspace.run(name).path), workspace, adapter or None)
    gguf, plus, lora = text.partition("+")
    if plus and gguf.lower().endswith(".gguf") and lora.lower().endswith(".gguf"):
        return [Candidate(text, _known(gguf_spec(gguf, lora), catalog))]
    path = Path(text).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return [Candidate(text, _known(gguf_spec(path), catalog))]
    if path.is_dir():
        return _folder(text, path.resolve(), workspace)
    if ":" in text or text.lower().endswith(".gguf"):
        return None  # a workspace id, or a missing file: the catalog says which
    raise UserError(f"'{text}' is not a model to evaluate: give a .gguf file, a run or adapter folder, a model "
                    "folder, base:MODEL or a model id of the Chat tab.",
                    ko=f"'{text}'은(는) 평가할 수 있는 모델이 아닙니다. .gguf 파일, 실행(run)이나 어댑터 폴더, "
                       "모델 폴더, base:MODEL 또는 대화 탭의 모델 id를 주세요.")


def _known(spec: ChatModelSpec, catalog: dict[str, ChatModelSpec]) -> ChatModelSpec:
    """A GGUF file of the workspace by the Chat tab's id and label (`export:NAME/FILE.gguf`), so its
    votes count with the Chat tab's; a file from elsewhere as it is."""
    for known in catalog.values():
        if known.kind == "gguf" and (known.gguf_path, known.lora_path) == (spec.gguf_path, spec.lora_path):
            return known
    return spec


def _folder(text: str, folder: Path, workspace: Workspace) -> list[Candidate]:
    if RunPaths(folder).status.is_file() or RunPaths(folder).requested_config.is_file():
        return _run_adapters(text, RunDir(folder), workspace)
    if (folder / "adapter_config.json").is_file():
        run_folder = folder.parent.parent if folder.parent.name == "checkpoints" else folder.parent
        if RunPaths(run_folder).status.is_file():
            adapter = FINAL if folder.name == RunPaths(run_folder).adapter.name else folder.name
            return _run_adapters(text, RunDir(run_folder), workspace, adapter)
        info = artifacts.read(RunPaths.adapter_info(folder), AdapterInfo)
        if info is None:
            raise UserError(f"{folder} is an adapter without its training.json: evaluate it from its run folder.",
                            ko=f"{folder}은(는) training.json이 없는 어댑터입니다. 실행(run) 폴더로 평가하세요.")
        spec = ChatModelSpec(id=f"path:{folder}", label=folder.name, kind="hf", base_model=info.base_model,
                             adapter_dir=str(folder), prompt=info.prompt)
        return [Candidate(text, spec)]
    if (folder / "config.json").is_file() and folder.name == ExportPaths(folder.parent).merged.name:
        manifest = artifacts.read(ExportPaths(folder.parent).manifest, ExportManifest)
        if manifest is not None:  # an export's merged model: the reference its GGUF files are compared with
            spec = ChatModelSpec(id=f"path:{folder}", label=f"{folder.parent.name} · merged (transformers)", kind="hf",
                                 base_model=manifest.base_model, base_path=str(folder), prompt=manifest.prompt)
            return [Candidate(text, spec)]
    if (folder / "config.json").is_file():
        spec = ChatModelSpec(id=f"path:{folder}", label=folder.name, kind="hf", base_model=str(folder),
                             base_path=str(folder))
        return [Candidate(text, spec, prompt_known=False)]
    raise UserError(f"{folder} is neither a run, an adapter nor a model folder.",
                    ko=f"{folder}은(는) 실행(run) 폴더도, 어댑터 폴더도, 모델 폴더도 아닙니다.")


def _run_adapters(text: str, run: RunDir, workspace: Workspace, only: str | None = None) -> list[Candidate]:
    """The run's adapters, oldest step first (the checkpoint curve), or the one asked for."""
    if not run.path.is_dir():
        raise UserError(f"There is no run {run.name}.", ko=f"{run.name} 실행(run)이 없습니다.")
    config = run.config()
    contract = run_contract(run, config, workspace)
    adapters = run.adapters()
    if only is not None and only not in adapters:
        raise UserError(f"{run.name} has no adapter {only} (it has: {', '.join(adapters) or 'none'}).",
                        ko=f"{run.name}에는 어댑터 {only}이(가) 없습니다 (있는 것: {', '.join(adapters) or '없음'}).")
    if not adapters:
        raise UserError(f"{run.name} has no adapter yet: train it first.",
                        ko=f"{run.name}에는 아직 어댑터가 없습니다. 먼저 학습하세요.")
    status = run.status()
    final_step = status.step if status else None
    chosen = [only] if only else adapters
    def step_of(name: str) -> int | None:
        return final_step if name == FINAL else checkpoint_step_of_name(name)

    # The checkpoint curve's order; the final adapter after a checkpoint of the same step
    ordered = sorted(chosen, key=lambda name: (step_of(name) if step_of(name) is not None else 10**9, name == FINAL))
    return [Candidate(text if only else f"run:{run.name}/{name}", ChatModelSpec(id=f"run:{run.name}/{name}", label=f"{run.name} · {name}", kind="hf",
                                          base_model=config.base_model, adapter_dir=str(run.files.adapter_dir(name)),
                                          prompt=contract, load_in_4bit=bool(config.load_in_4bit)),
                      run=run.name, step=step_of(name))
            for name in ordered]


def _from_catalog(text: str, catalog: dict[str, ChatModelSpec]) -> ChatModelSpec:
    spec = catalog.get(text)
    if spec is None:
        if text.lower().endswith(".gguf"):
            llama.check_gguf(Path(text.removeprefix("path:")))  # says it is missing, or not GGUF
        raise UserError(f"'{text}' is not a model of this workspace.", ko=f"'{text}'은(는) 이 작업 폴더의 모델이 아닙니다.")
    if spec.problem:
        raise UserError(spec.problem, ko=spec.problem_ko)
    return spec


# --- held-out data --------------------------------------------------------------------------------


def held_out(dataset_dir: Path) -> list[DatasetExample]:
    if not DatasetPaths(dataset_dir).train.is_file():
        raise UserError(f"{dataset_dir} is not a prepared dataset (no train.jsonl); prepare it in the Dataset tab.",
                        ko=f"{dataset_dir}은(는) 준비된 데이터셋이 아닙니다(train.jsonl 없음). 데이터셋 탭에서 준비하세요.")
    examples = load_split(dataset_dir, "val")
    if not any(message.role == "assistant" for example in examples for message in example.messages):
        raise UserError(f"{dataset_dir} has no held-out conversations with bot turns: prepare it again with a "
                        "validation share above 0 (the Dataset tab's 'validation share', --val-ratio).",
                        ko=f"{dataset_dir}에는 봇의 턴이 있는 검증용 대화가 없습니다. 검증 비율을 0보다 크게 하여 "
                           "다시 준비하세요(데이터셋 탭의 '검증 비율', --val-ratio).")
    return examples


def held_out_contexts(examples: list[DatasetExample], limit: int, seed: int) -> list[EvaluationContext]:
    """Up to `limit` points where the bot answered the user, drawn with `seed`: the same for every model."""
    points = []
    for example in examples:
        messages = [message.model_dump() for message in example.messages]
        for index, message in enumerate(messages):
            if message["role"] != "assistant" or index == 0 or messages[index - 1]["role"] == "assistant":
                continue
            end = index
            while end < len(messages) and messages[end]["role"] == "assistant":
                end += 1
            points.append(EvaluationContext(source=f"{example.source} · line {index + 1}", history=messages[:index],
                                            real_reply="\n".join(m["content"] for m in messages[index:end])))
    chosen = random.Random(seed).sample(range(len(points)), min(limit, len(points)))
    return [points[index] for index in sorted(chosen)]


# --- measuring one model --------------------------------------------------------------------------


@dataclass
class LossTotals:
    nats: float = 0.0
    tokens: int = 0
    by_depth: dict[int, list] = field(default_factory=dict)  # turn depth -> [nats, tokens]
    cut: int = 0

    def add(self, logprobs, labels: list[int], turns: list[int]) -> None:
        for position, logprob in enumerate(logprobs, start=1):  # logprobs[i] scores token i + 1
            if labels[position] == IGNORE:
                continue
            self.nats -= float(logprob)
            self.tokens += 1
            depth = self.by_depth.setdefault(turns[position], [0.0, 0])
            depth[0] -= float(logprob)
            depth[1] += 1

    def depth_losses(self) -> list[DepthLoss]:
        return [DepthLoss(depth=depth, loss=round(nats / count, 4), tokens=count)
                for depth, (nats, count) in sorted(self.by_depth.items()) if depth > 0]


def bot_loss(examples: list[DatasetExample], tokenizer, contract: PromptContract, context: int, logprobs_of,
             check_stop: Callable[[], None] = lambda: None) -> LossTotals:
    """The bot turns' loss over the conversations, in the model's training format; a conversation longer
    than `context` tokens counts its first `context` tokens (a causal model's loss there is exact)."""
    totals = LossTotals()
    for example in examples:
        check_stop()
        row = encode_for_training(lines_of(example.messages), tokenizer, contract.prompt_format, "bot", with_turns=True)
        if row is None:
            continue
        if len(row["input_ids"]) > context:
            totals.cut += 1
            row = {key: values[:context] for key, values in row.items()}
        if all(label == IGNORE for label in row["labels"][1:]):
            continue
        totals.add(logprobs_of(row["input_ids"]), row["labels"], row["turns"])
    return totals


def _hf_logprobs(model):
    import torch

    def logprobs(ids: list[int]):
        tensor = torch.tensor([ids], device=model.device)
        with torch.no_grad():
            logits = model.model(input_ids=tensor).logits[0, :-1].float()
        return torch.log_softmax(logits, dim=-1).gather(1, tensor[0, 1:, None])[:, 0].cpu().tolist()

    return logprobs


def _loss_of_gguf(spec: ChatModelSpec, examples, context: int, check_stop) -> LossTotals:
    # Scoring needs every position's logits (logits_all), which chat does not keep: a load of its own.
    with llama.load(Path(spec.gguf_path), n_ctx=context, logits_all=True,
                    lora_path=Path(spec.lora_path) if spec.lora_path else None) as llm:
        return bot_loss(examples, llama.Tokenizer(llm), spec.prompt, context, llm.logprobs, check_stop)


def evaluate_model(candidate: Candidate, examples: list[DatasetExample], contexts: list[EvaluationContext],
                   real_style: StyleStats, request: EvaluationRequest, cache: ModelCache,
                   report: Callable[[str, float], None], check_stop: Callable[[], None]) -> tuple[ModelEvaluation, int]:
    """One model's loss, loss by depth, replies and style; and how many conversations it had to cut."""
    spec, started = candidate.spec, time.perf_counter()
    report("loss", 0.0)
    context = min(LOSS_CONTEXT, context_length(spec))
    if spec.kind == "gguf":
        totals = _loss_of_gguf(spec, examples, context, check_stop)
        loaded = cache.get(spec)
    else:
        loaded = cache.get(spec)
        spec = loaded.spec
        totals = bot_loss(examples, loaded.tokenizer, spec.prompt, context, _hf_logprobs(loaded), check_stop)
    if totals.tokens == 0:
        raise UserError("No bot turn of the held-out conversations fits this model's context.",
                        ko="검증용 대화의 봇 턴 중 이 모델의 컨텍스트에 들어가는 것이 없습니다.")
    settings = GenerationSettings(seed=request.seed, max_new_tokens=request.max_new_tokens)
    replies = []
    for index, context_point in enumerate(contexts):
        check_stop()
        report("replies", 0.5 + 0.5 * index / max(1, len(contexts)))
        reply = None
        for reply in chat_stream(loaded, context_point.history, settings):
            pass
        replies.append(reply.text if reply else "")
    loss = totals.nats / totals.tokens
    style = style_of(replies)
    evaluation = ModelEvaluation(
        model=candidate.asked, id=candidate.spec.id, label=candidate.spec.label, engine=spec.kind, run=candidate.run,
        step=candidate.step,
        bot_loss=round(loss, 4), perplexity=round(math.exp(min(loss, 50.0)), 3), bot_tokens=totals.tokens,
        loss_by_depth=totals.depth_losses(), style=style, style_distance=style_distance(style, real_style),
        replies=replies, seconds=round(time.perf_counter() - started, 1))
    return evaluation, totals.cut


# --- the evaluation -------------------------------------------------------------------------------


def evaluate(request: EvaluationRequest, workspace: Workspace, progress: Progress = lambda model, phase, share: None,
             stop: StopRequest | None = None) -> Evaluation:
    """Every model of the request, one after another; `out_dir/evaluation.json` is rewritten after each,
    so a stop or a crash keeps the models finished."""
    dataset_dir = workspace.relocate(request.dataset)
    examples = held_out(dataset_dir)
    contexts = held_out_contexts(examples, request.limit, request.seed)
    found = candidates(request.models, workspace)
    _complete_base_contracts(found, dataset_dir, workspace)
    out = EvaluationDir(Path(request.out_dir))
    results = Evaluation(dataset=str(dataset_dir), seed=request.seed, max_new_tokens=request.max_new_tokens,
                         requested=[candidate.spec.label for candidate in found],
                         conversations=len(examples), loss_context=LOSS_CONTEXT, contexts=contexts,
                         real_style=style_of([context.real_reply for context in contexts]))

    def check_stop() -> None:
        if stop is not None and stop.requested:
            raise Stopped()

    cache = ModelCache(resolve_base=lambda base: resolve_model_path(base, workspace))
    try:
        for number, candidate in enumerate(found):
            def report(phase: str, share: float, number=number, candidate=candidate) -> None:
                progress(candidate.spec.label, phase, (number + share) / len(found))

            measured, cut = evaluate_model(candidate, examples, contexts, results.real_style, request, cache, report,
                                           check_stop)
            results.models.append(measured)
            results.cut_conversations = max(results.cut_conversations, cut)
            artifacts.write(out.files.results, results)
            cache.close()  # one model in memory at a time
    finally:
        cache.close()
    progress("", "done", 1.0)
    return results


def _complete_base_contracts(found: list[Candidate], dataset_dir: Path, workspace: Workspace) -> None:
    """A base model evaluated alone is prompted in the blog post's format, with the dataset's speakers
    and its tokenizer's end token."""
    report = artifacts.read(DatasetPaths(dataset_dir).report, DatasetReport)
    for index, candidate in enumerate(found):
        if candidate.prompt_known:
            continue
        folder = candidate.spec.base_path or resolve_model_path(candidate.spec.base_model, workspace)
        tokenizer = load_tokenizer(folder, workspace)
        contract = contract_for(tokenizer, "lines", report.speakers if report else "blog")
        found[index] = Candidate(candidate.asked, candidate.spec.model_copy(update={"prompt": contract}))


def table(results: Evaluation) -> str:
    """The results as the command line prints them."""
    head = ["model", "step", "bot loss", "perplexity", "tokens", "style distance", "chars", "polite", "laughter",
            "distinct-2", "seconds"]
    rows = [head, ["(real replies)", "", "", "", "", "0", f"{results.real_style.mean_chars:.1f}",
                   f"{results.real_style.polite:.0%}", f"{results.real_style.laughter:.0%}",
                   f"{results.real_style.distinct_2:.2f}", ""]]
    for model in results.models:
        rows.append([model.label, "" if model.step is None else str(model.step), f"{model.bot_loss:.4f}",
                     f"{model.perplexity:.2f}", str(model.bot_tokens), f"{model.style_distance:.3f}",
                     f"{model.style.mean_chars:.1f}", f"{model.style.polite:.0%}", f"{model.style.laughter:.0%}",
                     f"{model.style.distinct_2:.2f}", f"{model.seconds:.1f}"])
    widths = [max(len(row[column]) for row in rows) for column in range(len(head))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


# --- the job and the command line -----------------------------------------------------------------


def export_request(export: ExportDir, workspace: Workspace, limit: int = 20) -> EvaluationRequest:
    """An export's evaluation (export --evaluate): the base, the merged model and every exported file,
    on the held-out conversations of the run's dataset, into the export's evaluation/ folder."""
    manifest = export.manifest()
    if manifest is None:
        raise UserError(f"{export.name} has not been exported yet.", ko=f"{export.name}은(는) 아직 내보내지 않았습니다.")
    config = RunDir(workspace.relocate(manifest.run)).config()
    files = export.files
    models = [str(files.base_gguf) if files.base_gguf.is_file() else f"base:{manifest.base_model}"]
    models += [str(files.merged)] if (files.merged / "config.json").is_file() else []
    for result in manifest.files:
        path = export.path / result.file
        models.append(f"{export.path / result.applies_to if result.applies_to else files.base_gguf}+{path}"
                      if result.kind == "lora" else str(path))
    return EvaluationRequest(dataset=str(workspace.relocate(config.dataset)), models=models,
                             out_dir=str(files.evaluation), limit=limit, workspace=str(workspace.root))



def is_evaluation_dir(folder: Path) -> bool:
    paths = EvaluationDir(folder).files
    return any(path.is_file() for path in (paths.results, paths.status, paths.request, paths.log, paths.process_log))


def run_job(request: EvaluationRequest, workspace: Workspace, say: Callable[[str], None]) -> Evaluation | None:
    """The evaluation as a job: its request and progress in its folder, a stop between replies when
    asked. None when it was stopped; UserError (recorded as failed) when it failed."""
    target = EvaluationDir(Path(request.out_dir))
    fileio.check_replaceable(target.path, is_evaluation_dir)
    target.path.mkdir(parents=True, exist_ok=True)
    target.files.results.unlink(missing_ok=True)  # this evaluation's results, not the last one's
    artifacts.write(target.files.request, request)
    stop = StopRequest(target.files.stop)
    target.write_status("running", pid=os.getpid(), started_at=time.time(), phase="start", share=0.0)

    def progress(model: str, phase: str, share: float) -> None:
        target.write_status("running", evaluating=model or None, phase=phase, share=round(share, 4))
        say(f"[{share:4.0%}] {model} {phase}".rstrip())

    try:
        with failures_recorded(target.write_status):
            results = evaluate(request, workspace, progress, stop)
    except Stopped:
        target.write_status("stopped")
        target.files.stop.unlink(missing_ok=True)
        return None
    target.write_status("completed", evaluating=None, phase="done", share=1.0)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, metavar="DIR", help="a prepared dataset (its val.jsonl)")
    parser.add_argument("--model", required=True, action="append", metavar="SPEC", dest="models")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="held-out contexts each model answers")
    parser.add_argument("--seed", type=int, default=0, metavar="S")
    parser.add_argument("--max-new-tokens", type=int, default=64, metavar="N")
    parser.add_argument("--workspace", default=None)
    args = parser.parse_args(argv)
    lang = env_lang()
    try:
        workspace = Workspace.open(args.workspace)
        dataset = Path(args.dataset)
        if not dataset.is_dir() and workspace.datasets.joinpath(args.dataset).is_dir():
            dataset = workspace.datasets / args.dataset  # a dataset's name in the workspace
        request = _request(args, dataset, workspace)
        fileio.check_replaceable(Path(request.out_dir), is_evaluation_dir)
        Path(request.out_dir).mkdir(parents=True, exist_ok=True)
        tee_output(EvaluationDir(Path(request.out_dir)).files.log)
        results = run_job(request, workspace, lambda line: print(line, flush=True))
    except UserError as err:
        print(f"error: {err.text()}", file=sys.stderr)
        return 1
    if results is None:
        print(text_in(Text("stopped; the models finished are in evaluation.json",
                           "중지됨. 끝난 모델의 결과는 evaluation.json에 있습니다"), lang))
        return 0
    print(table(results))
    print(text_in(Text(f"written: {EvaluationDir(Path(request.out_dir)).files.results}",
                       f"저장함: {EvaluationDir(Path(request.out_dir)).files.results}"), lang))
    return 0


def _request(args, dataset: Path, workspace: Workspace) -> EvaluationRequest:
    from pydantic import ValidationError

    try:
        return EvaluationRequest(dataset=str(dataset.resolve()), models=args.models, out_dir=str(Path(args.out).resolve()),
                                 limit=args.limit, seed=args.seed, max_new_tokens=args.max_new_tokens,
                                 workspace=str(workspace.root))
    except ValidationError as err:
        problem = "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in err.errors())
        raise UserError(f"invalid evaluation settings: {problem}", ko=f"평가 설정이 올바르지 않습니다: {problem}") from None


if __name__ == "__main__":
    sys.exit(main())
