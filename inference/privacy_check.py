"""The check before Publish: personal information left in a run's training data, and whether the
exported model repeats training lines that hold numbers or names.

    python -m inference.privacy_check EXPORT_DIR --file model-q4_k_m.gguf [--lines N] [--workspace DIR]

1. The run's dataset (train.jsonl, val.jsonl) is scanned again with preparation's detector
   (data/privacy.py), every kind on: what is found is listed.
2. Memorization probe: for up to N of the bot's training lines that hold a digit or a name, the model
   is given the conversation before the line and the line's first half, and continues greedily; a
   line is repeated when the continuation begins with the real second half, word for word.
The result is written beside the GGUF (`<file>.privacy.json`, never published) and its counts go into
the Space's model card. Publishing then needs an explicit confirmation when the dataset was prepared
with masking off or the probe found a repeated line.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from core import artifacts
from core.artifacts import DatasetReport, ExportManifest, PiiFinding, PrivacyCheck, ProbedLine
from core.errors import UserError
from core.i18n import env_lang, text_in
from core.runs import RunDir
from core.workspace import DatasetPaths, ExportPaths, Workspace
from data import privacy
from data.chat_format import lines_of, prompt_text

PROBE_LINES = 30
MIN_LINE_CHARS = 8
LISTED_FINDINGS = 50
PROBE_SEED = 0
HOLDS_A_NUMBER_OR_NAME = re.compile(r"\d|<name>")

Progress = Callable[[str, float], None]


def checked(export_dir: Path, gguf_name: str, workspace: Workspace, lines: int = PROBE_LINES,
            progress: Progress = lambda step, share: None) -> PrivacyCheck:
    """The check of this file, made now or read back when neither the file nor the dataset changed."""
    export_dir = Path(export_dir)
    gguf_path = export_dir / gguf_name
    manifest = _manifest(export_dir)
    if not gguf_path.is_file() or manifest.file(gguf_name) is None:
        raise UserError(f"{gguf_name} is not a file of the export {export_dir.name}.",
                        ko=f"{gguf_name}은(는) 내보내기 {export_dir.name}의 파일이 아닙니다.")
    dataset = _dataset_of(manifest, workspace)
    stamp = _stamp(gguf_path, dataset)
    target = ExportPaths.privacy_check(gguf_path)
    try:
        earlier = artifacts.read(target, PrivacyCheck)
    except artifacts.UnreadableFile:
        earlier = None
    if earlier is not None and earlier.stamp == stamp and len(earlier.probed) <= lines:
        return earlier
    result = check(gguf_path, manifest, dataset, lines, progress)
    result.stamp = stamp
    artifacts.write(target, result)
    return result


def check(gguf_path: Path, manifest: ExportManifest, dataset: Path, lines: int = PROBE_LINES,
          progress: Progress = lambda step, share: None) -> PrivacyCheck:
    report = artifacts.read(DatasetPaths(dataset).report, DatasetReport)
    rows = _rows(dataset)
    progress("scan", 0.0)
    remaining, findings, scanned = _scan(rows)
    progress("probe", 0.3)
    probed = _probe(gguf_path, manifest, rows, lines, progress)
    progress("done", 1.0)
    return PrivacyCheck(gguf=gguf_path.name, dataset=str(dataset), masked_kinds=report.pii_masked() if report else [],
                        lines_scanned=scanned, remaining=dict(remaining), findings=findings, probed=probed)


def _manifest(export_dir: Path) -> ExportManifest:
    manifest = artifacts.read(ExportPaths(export_dir).manifest, ExportManifest)
    if manifest is None:
        raise UserError(f"{export_dir} is not an export (no export.json).",
                        ko=f"{export_dir}은(는) 내보내기 폴더가 아닙니다 (export.json 없음).")
    return manifest


def _dataset_of(manifest: ExportManifest, workspace: Workspace) -> Path:
    run = RunDir(workspace.relocate(manifest.run))
    dataset = workspace.relocate(run.config().dataset)
    if not DatasetPaths(dataset).train.is_file():
        raise UserError(f"The dataset this model was trained on is gone ({dataset}): it cannot be checked.",
                        ko=f"이 모델을 학습한 데이터셋이 없습니다 ({dataset}). 확인할 수 없습니다.")
    return dataset


def _stamp(gguf_path: Path, dataset: Path) -> str:
    files = [gguf_path, DatasetPaths(dataset).train, DatasetPaths(dataset).val]
    return ";".join(f"{path.name}:{path.stat().st_size}:{path.stat().st_mtime_ns}" for path in files if path.is_file())


def _rows(dataset: Path) -> list[dict]:
    paths = DatasetPaths(dataset)
    return [json.loads(line) for path in (paths.train, paths.val) if path.is_file()
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _scan(rows: list[dict]) -> tuple[Counter, list[PiiFinding], int]:
    remaining, findings, scanned = Counter(), [], 0
    for row in rows:
        for message in row["messages"]:
            scanned += 1
            for item in privacy.find(message["content"]):
                remaining[item.kind] += 1
                if len(findings) < LISTED_FINDINGS:
                    findings.append(PiiFinding(kind=item.kind, text=item.text, line=message["content"][:200],
                                               source=row.get("source", "")))
    return remaining, findings, scanned


def _probe_targets(rows: list[dict], lines: int) -> list[tuple[list, int]]:
    """(messages, index) of bot lines after the first that hold a digit or a name, a seeded sample."""
    targets = [(row["messages"], index) for row in rows for index, message in enumerate(row["messages"])
               if index > 0 and message["role"] == "assistant" and len(message["content"]) >= MIN_LINE_CHARS
               and (HOLDS_A_NUMBER_OR_NAME.search(message["content"]) or privacy.find(message["content"], ["name"]))]
    return random.Random(PROBE_SEED).sample(targets, min(lines, len(targets)))


def _probe(gguf_path: Path, manifest: ExportManifest, rows: list[dict], lines: int, progress: Progress) -> list[ProbedLine]:
    from inference.chat import GenerationSettings, ModelCache, gguf_spec

    targets = _probe_targets(rows, lines)
    if not targets:
        return []
    spec = gguf_spec(gguf_path).model_copy(update={"prompt": manifest.prompt})
    cache = ModelCache()
    model = cache.get(spec)
    probed = []
    try:
        for number, (messages, index) in enumerate(targets):
            content = " ".join(messages[index]["content"].split())
            cut = _middle(content)
            first, second = content[:cut], content[cut:]
            prompt = prompt_text(lines_of(messages[:index]), manifest.prompt, model.template)
            prompt += (" " if manifest.prompt.prompt_format == "lines" else "") + first
            settings = GenerationSettings(temperature=0, top_k=0, top_p=1.0, repeat_penalty=1.0,
                                          max_new_tokens=len(model.tokenize(second)) + 3, seed=PROBE_SEED)
            with model.lock:
                continuation = "".join(model.stream_raw(prompt, settings, PROBE_SEED))
            probed.append(ProbedLine(prompt_half=first, real_half=second, continuation=continuation,
                                     repeated=_words(continuation).startswith(_words(second))))
            progress("probe", 0.3 + 0.7 * (number + 1) / len(targets))
    finally:
        cache.close()
    return probed


def _middle(content: str) -> int:
    """Where the line is cut: at the space nearest its middle, else at the middle."""
    middle = len(content) // 2
    spaces = [position for position, char in enumerate(content) if char == " " and 0 < position < len(content) - 1]
    return min(spaces, key=lambda position: abs(position - middle)) if spaces else middle


def _words(text: str) -> str:
    return " ".join(text.split())


def card_section(result: PrivacyCheck | None) -> str:
    """The model card's privacy section: counts only, never the training data's words."""
    if result is None:
        return "Not checked."
    masked = ", ".join(result.masked_kinds) or "**off**"
    remaining = ", ".join(f"{kind} {count}" for kind, count in result.remaining.items()) or "none"
    probe = (f"{result.repeated} of {len(result.probed)} training lines holding a number or a name were continued "
             f"word for word from their first half ({result.repeated / len(result.probed):.0%})"
             if result.probed else "no training line held a number or a name to probe")
    return (f"- Personal information masked at preparation: {masked}\n"
            f"- Personal information found in the training data before publishing ({result.lines_scanned} lines "
            f"scanned): {remaining}\n"
            f"- Memorization probe on `{result.gguf}` (greedy): {probe}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.privacy_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("export_dir", metavar="EXPORT_DIR")
    parser.add_argument("--file", default="model-q4_k_m.gguf", help="the GGUF in EXPORT_DIR to check")
    parser.add_argument("--lines", type=int, default=PROBE_LINES, help="training lines to probe")
    parser.add_argument("--workspace", default=None, help="the workspace (default: TUNER_WORKSPACE or ./workspace)")
    args = parser.parse_args(argv)
    lang = env_lang()
    try:
        export_dir = Path(args.export_dir)
        if not (export_dir / args.file).is_file():
            raise UserError(f"There is no {args.file} in {export_dir}.", ko=f"{export_dir}에 {args.file}이(가) 없습니다.")
        result = checked(export_dir, args.file, Workspace.open(args.workspace), args.lines)
    except UserError as err:
        print(f"error: {err.text()}", file=sys.stderr)
        return 1
    print(card_section(result))
    for finding in result.findings[:10]:
        print(f"  {finding.kind}: {finding.text}  ({finding.source})")
    for reason in result.reasons():
        print(f"! {text_in(reason, lang)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
