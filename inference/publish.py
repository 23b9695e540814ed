"""Share one exported GGUF as a chat-only Hugging Face Space: a folder with a small app (the Chat tab
alone), the project's own modules that the Chat tab imports (found by reading their imports: no
training code), its requirements, README front matter and a model card (training recipe, dataset
summary, verification); then, given a token, pushed with the GGUF to the Hub. The token is used for
the upload only: never logged, never written to a file.

    python -m inference.publish EXPORT_DIR --file model-q4_k_m.gguf --out DIR [--repo USER/NAME] [--confirm]
    (the token comes from HF_TOKEN)

Before the folder is built, the privacy check (inference/privacy_check.py) runs on the file; its
counts go into the model card, and pushing needs --confirm (the app: a tick) when it found that the
dataset was prepared with masking off or that the model repeats training lines.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import sys
from pathlib import Path

from core import artifacts, fileio
from core.artifacts import DatasetReport, ExportedFile, ExportManifest, PrivacyCheck, TrainConfig, UnreadableFile
from core.errors import UserError
from core.i18n import Text, env_lang, text_in
from core.workspace import DatasetPaths, ExportPaths, RunPaths, Workspace

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "models", "data", "tuning", "inference", "ui")  # the project's own packages
SPACE_ENTRY = ("ui.chat_tab", "ui.common", "ui.i18n", "core.workspace")  # what the Space's app.py imports
ASSETS = (".js",)  # files beside a module that it reads at run time (the page scripts)
GRADIO_VERSION = "6.31.0"
SPACE_REQUIREMENTS = ["gradio==6.31.0", "llama-cpp-python==0.3.36", "pydantic==2.14.4", "pandas"]
SPACE_APP = '''"""Chat-only Space: talk to {title}, fine-tuned with Korean chat tuner."""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from core.workspace import Workspace  # noqa: E402
from ui.chat_tab import create_chat_tab  # noqa: E402
from ui.common import page_head  # noqa: E402
from ui.i18n import language_selector, set_default_lang, show_current_language, translations  # noqa: E402

set_default_lang(os.environ.get("TUNER_LANG", "auto"))
workspace = Workspace.open(os.path.dirname(os.path.abspath(__file__)))
with gr.Blocks(title={title!r}) as demo:
    with gr.Row(equal_height=True):
        gr.Markdown({intro!r})
        language = language_selector()
    show_current_language(demo, language)
    create_chat_tab(workspace)

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=4).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), head=page_head(), i18n=translations())
'''


def build_space(export_dir: Path, gguf_name: str, out_dir: Path, title: str | None = None,
                privacy: PrivacyCheck | None = None) -> Path:
    """The Space folder for `export_dir/gguf_name`; the GGUF is linked (or copied) into `models/`;
    the model card carries the privacy check's counts when one is given."""
    export_dir, out_dir = Path(export_dir), Path(out_dir)
    manifest = artifacts.read(ExportPaths(export_dir).manifest, ExportManifest)
    if manifest is None:
        raise UserError(f"{export_dir} is not an export (no export.json): export the run in the Export tab first.",
                        ko=f"{export_dir}은(는) 내보내기 폴더가 아닙니다 (export.json 없음). "
                           "먼저 내보내기 탭에서 실행을 내보내세요.")
    result = manifest.file(gguf_name)
    if result is None or result.kind == "lora" or not (export_dir / gguf_name).is_file():
        kinds = ", ".join(r.file for r in manifest.files if r.kind != "lora")
        raise UserError(f"{gguf_name} is not a GGUF model of this export; choose one of: {kinds}.",
                        ko=f"{gguf_name}은(는) 이 내보내기의 GGUF 모델이 아닙니다. 다음 중에서 고르세요: {kinds}.")
    title = title or f"{Path(manifest.run).name} · {result.kind}"
    with fileio.atomic_dir(out_dir, replaces=is_space) as tmp:
        for module_file in space_modules():
            target = tmp / module_file.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(module_file, target)
        models = tmp / "models"
        models.mkdir(exist_ok=True)
        _link_or_copy(export_dir / gguf_name, models / gguf_name)
        # The chat engine reads the prompt contract from the export.json beside the file.
        artifacts.write(ExportPaths(models).manifest, manifest.model_copy(update={"files": [result]}))
        intro = f"# {title}\nA Korean chatbot fine-tuned from `{manifest.base_model}` with Korean chat tuner."
        fileio.write_text(tmp / "app.py", SPACE_APP.format(title=title, intro=intro))
        requirements = SPACE_REQUIREMENTS + (["transformers==5.17.0"]
                                             if manifest.prompt.prompt_format == "chat_template" else [])
        fileio.write_text(tmp / "requirements.txt", "\n".join(requirements) + "\n")
        fileio.write_text(tmp / "README.md", model_card(manifest, result, title, _workspace_of(export_dir), privacy))
    return out_dir


def is_space(folder: Path) -> bool:
    """A folder Publish built before: it may be rebuilt."""
    return (folder / "app.py").is_file() and ExportPaths(folder / "models").manifest.is_file()


def space_modules(entry: tuple[str, ...] = SPACE_ENTRY) -> list[Path]:
    """The project's files the Space needs: the entry modules, every project module they import
    (at the top or inside functions), their packages' __init__.py, and their page scripts."""
    needed: set[Path] = set()
    waiting = [_module_file(name) for name in entry]
    while waiting:
        path = waiting.pop()
        if path is None or path in needed:
            continue
        needed.add(path)
        init = path.parent / "__init__.py"
        if init.is_file():
            waiting.append(init)
        waiting += [_module_file(name) for name in _imported_modules(path)]
    assets = {asset for path in needed for asset in path.parent.iterdir() if asset.suffix in ASSETS}
    return sorted(needed | assets)


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {name for name in names if name.split(".")[0] in PACKAGES}


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _workspace_of(export_dir: Path) -> Workspace | None:
    """The workspace an export folder lies in (exports/NAME), to find its run after a move."""
    return Workspace(export_dir.resolve().parent.parent) if export_dir.resolve().parent.name == "exports" else None


def checked_for_publishing(export_dir: Path, gguf_name: str, workspace: Workspace | None = None) -> PrivacyCheck:
    """The privacy check of the file (made now, or read back when nothing changed since)."""
    from inference.privacy_check import checked

    return checked(Path(export_dir), gguf_name, workspace or _workspace_of(export_dir) or Workspace.open())


def require_confirmation(privacy: PrivacyCheck, confirmed: bool) -> None:
    """Pushing a model the check flagged needs the user's explicit go-ahead."""
    if privacy.needs_confirmation and not confirmed:
        reasons = privacy.reasons()
        raise UserError("Not published: " + "; ".join(map(str, reasons)) + ". Look at the privacy check "
                        f"({privacy.gguf.removesuffix('.gguf')}.privacy.json beside the export), then confirm to "
                        "publish anyway.",
                        ko="공유하지 않았습니다: " + "; ".join(text_in(reason, "ko") for reason in reasons) +
                           f". 내보내기 폴더의 {privacy.gguf.removesuffix('.gguf')}.privacy.json을 확인한 뒤, "
                           "그래도 공유하려면 확인란을 체크하세요.")


def privacy_summary(privacy: PrivacyCheck) -> Text:
    """One line on the check for the Export tab and the command line."""
    probe = f"{privacy.repeated}/{len(privacy.probed)}"
    remaining = sum(privacy.remaining.values())
    return Text(f"Privacy check: masking {'on' if privacy.masked_kinds else 'OFF'}, {remaining} personal details "
                f"left in the training data, {probe} probed training lines repeated word for word.",
                f"개인정보 확인: 가리기 {'켜짐' if privacy.masked_kinds else '꺼짐'}, 학습 데이터에 남은 개인정보 "
                f"{remaining}건, 확인한 학습 문장 중 그대로 이어 쓴 것 {probe}.")


def model_card(manifest: ExportManifest, result: ExportedFile, title: str, workspace: Workspace | None = None,
               privacy: PrivacyCheck | None = None) -> str:
    from inference.privacy_check import card_section

    run_dir = workspace.relocate(manifest.run) if workspace else Path(manifest.run)
    config = _readable(lambda: TrainConfig.from_file(RunPaths(run_dir).config))
    report = None
    if config is not None:
        dataset_dir = workspace.relocate(config.dataset) if workspace else Path(config.dataset)
        report = _readable(lambda: artifacts.read(DatasetPaths(dataset_dir).report, DatasetReport))
    recipe_keys = ("base_model", "max_steps", "num_train_epochs", "learning_rate", "lora_r", "lora_alpha",
                   "lora_dropout", "max_length", "batch_size", "gradient_accumulation_steps", "warmup_steps",
                   "optim", "load_in_4bit", "packing", "prompt_format", "loss_on", "seed")
    values = config.model_dump() if config else {}
    recipe = "\n".join(f"| {key} | {values[key]} |" for key in recipe_keys if key in values)
    counts = report.counts.model_dump() if report else {}
    lengths = counts.get("tokens_per_example") or []
    if lengths:
        counts["mean tokens per example"] = round(sum(lengths) / len(lengths), 1)
    dataset = "\n".join(f"| {key.replace('_', ' ')} | {value} |" for key, value in counts.items()
                        if not isinstance(value, (dict, list)))
    if report:
        dataset += f"\n| speaker labels | {report.speakers} |"
    check = result.verification
    return f"""---
title: {json.dumps(title, ensure_ascii=False)}
emoji: 💬
sdk: gradio
sdk_version: {GRADIO_VERSION}
app_file: app.py
pinned: false
---

# {title}

A Korean chatbot: `{manifest.base_model}` fine-tuned with LoRA on chat logs, exported to GGUF
(`models/{result.file}`, {result.kind}, {result.size_bytes / 2**20:.1f} MiB) and served through
llama-cpp-python. Prompt format: `{manifest.prompt.prompt_format}` (speakers: {manifest.prompt.speakers}).

## Training recipe

| setting | value |
| --- | --- |
{recipe or '| (config not found) | |'}

## Dataset

| statistic | value |
| --- | --- |
{dataset or '| (report not found) | |'}

## Privacy

{card_section(privacy)}

## Verification

Against the merged Hugging Face model on fixed prompts: top-1 agreement {check.top1_agreement:.1%},
identical tokenization: {check.tokenization_match}, greedy output identical: {check.greedy_match};
{'passed' if check.passed else 'FAILED'}.
"""


def _readable(read):
    """A file the model card can do without: None when it is missing or cannot be read."""
    try:
        return read()
    except UnreadableFile:
        return None


def push_space(space_dir: Path, repo_id: str, token: str | None) -> str:
    """Creates (or updates) the Space and uploads the folder; returns its URL."""
    token = token or os.environ.get("HF_TOKEN")
    if not token:
        raise UserError("A Hugging Face token with write access is needed to publish (give one, or set HF_TOKEN).",
                        ko="공유하려면 쓰기 권한이 있는 Hugging Face 액세스 토큰이 필요합니다 "
                           "(토큰을 입력하거나 HF_TOKEN을 설정하세요).")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True)
        api.upload_folder(folder_path=str(space_dir), repo_id=repo_id, repo_type="space")
    except Exception as err:  # offline, bad token, taken name: one clear message, the token never in it
        reason = str(err).replace(token, "***").splitlines()[0][:300]
        raise UserError(f"Could not publish to the Space {repo_id}: {reason}",
                        ko=f"스페이스 {repo_id}에 공유하지 못했습니다: {reason}") from None
    return f"https://huggingface.co/spaces/{repo_id}"


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # same disk: no second copy of a multi-GB file
    except OSError:
        shutil.copy2(source, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("export_dir", metavar="EXPORT_DIR")
    parser.add_argument("--file", required=True, help="the GGUF in EXPORT_DIR to publish, e.g. model-q4_k_m.gguf")
    parser.add_argument("--out", required=True, metavar="DIR", help="where to build the Space folder")
    parser.add_argument("--repo", default=None, metavar="USER/NAME", help="push to this Space (token: HF_TOKEN)")
    parser.add_argument("--title", default=None)
    parser.add_argument("--confirm", action="store_true",
                        help="publish even when the privacy check flags the model (masking off, repeated lines)")
    args = parser.parse_args(argv)
    lang = env_lang()
    korean = lang == "ko"
    try:
        fileio.check_replaceable(Path(args.out), is_space)
        privacy = checked_for_publishing(Path(args.export_dir), args.file)
        print(text_in(privacy_summary(privacy), lang))
        space_dir = build_space(Path(args.export_dir), args.file, Path(args.out), args.title, privacy)
        print(f"{'스페이스 폴더' if korean else 'Space folder'}: {space_dir}")
        if args.repo:
            require_confirmation(privacy, args.confirm)
            print(f"{'공유했습니다' if korean else 'Published'}: {push_space(space_dir, args.repo, None)}")
    except UserError as err:
        print(f"error: {err.text()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
