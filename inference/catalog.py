"""Everything in the workspace one can chat with, by stable id (see core.artifacts): exported GGUF files
(and GGUF LoRAs on their base), the base models, checkpoints not yet exported (through transformers),
and GGUF files dropped into `models/`. A run or export whose files cannot be read is listed too, with
the reason, and refused with it when picked."""
from __future__ import annotations

from pathlib import Path

from core import artifacts
from core.artifacts import AdapterInfo, DatasetReport, PromptContract, TrainConfig
from core.errors import UserError
from core.exports import list_exports
from core.runs import RunDir, list_runs
from core.workspace import DatasetPaths, ExportPaths, Workspace
from inference.chat import ChatModelSpec, gguf_spec

PREFERRED_KINDS = ("q4_k_m", "q5_k_m", "q6_k", "q8_0", "f16", "lora")  # the default fine-tuned pick
UNREADABLE = "unreadable:"


DEMO_BASE = "base-gguf:demo"


def chat_models(workspace: Workspace, demo_base: bool = False) -> dict[str, ChatModelSpec]:
    """Id → what to load; fine-tuned exports first (newest first), then bases, checkpoints, loose files.
    `demo_base` lists the demo base as GGUF even before anything was exported (the app builds it on
    first use: ModelCache's `make_file`); a chat-only Space, which cannot build it, leaves it out."""
    exports, bases, unexported, unreadable = {}, {}, {}, {}
    exported_names = set()
    for entry in list_exports(workspace.exports):
        folder = entry.export.path
        exported_names.add(folder.name)
        if entry.problem is not None:
            unreadable[UNREADABLE + f"exports/{folder.name}"] = _unreadable(f"exports/{folder.name}", entry.problem)
            continue
        manifest = entry.manifest
        for result in manifest.files:
            spec = _exported(folder, result, manifest)
            if spec is not None:
                exports[spec.id] = spec
        base_id, base_gguf = f"base-gguf:{manifest.base_model}", entry.export.files.base_gguf
        if base_gguf.is_file() and base_id not in bases:
            bases[base_id] = ChatModelSpec(id=base_id, label=f"base · {manifest.base_model} · f16 GGUF", kind="gguf",
                                           gguf_path=str(base_gguf), base_model=manifest.base_model,
                                           prompt=manifest.prompt)
    for entry in list_runs(workspace.runs):
        if entry.problem is not None:
            unreadable[UNREADABLE + f"runs/{entry.run.name}"] = _unreadable(f"runs/{entry.run.name}", entry.problem)
            continue
        try:
            _add_run(entry.run, workspace, exported_names, bases, unexported)
        except artifacts.UnreadableFile as problem:  # a checkpoint's own files
            unreadable[UNREADABLE + f"runs/{entry.run.name}"] = _unreadable(f"runs/{entry.run.name}", problem)
    if demo_base and DEMO_BASE not in bases:
        built = workspace.demo_gguf.is_file()
        bases[DEMO_BASE] = ChatModelSpec(id=DEMO_BASE, label="base · demo · f16 GGUF" + ("" if built else " (built on first use)"),
                                         kind="gguf", gguf_path=str(workspace.demo_gguf), base_model="demo",
                                         file_kind="f16")
    loose = {}
    for path in sorted(workspace.models.rglob("*.gguf")):
        if path == workspace.demo_gguf:
            continue
        label = f"models/{path.relative_to(workspace.models)}"
        loose[f"file:{label}"] = gguf_spec(path, label=label, model_id=f"file:{label}")
    return {**exports, **bases, **unexported, **loose, **unreadable}


def _exported(folder: Path, result, manifest) -> ChatModelSpec | None:
    path = folder / result.file
    if not path.is_file():
        return None
    model_id = f"export:{folder.name}/{result.file}"
    if result.kind == "lora":
        base_path = folder / result.applies_to if result.applies_to else ExportPaths(folder).base_gguf
        if not base_path.is_file():
            return None
        return ChatModelSpec(id=model_id, label=f"{folder.name} · LoRA on base", kind="gguf", gguf_path=str(base_path),
                             lora_path=str(path), base_model=manifest.base_model, prompt=manifest.prompt,
                             file_kind="lora")
    return ChatModelSpec(id=model_id, label=f"{folder.name} · {result.kind}", kind="gguf", gguf_path=str(path),
                         base_model=manifest.base_model, prompt=manifest.prompt, file_kind=result.kind)


def _add_run(run: RunDir, workspace: Workspace, exported_names: set[str], bases: dict, unexported: dict) -> None:
    config = run.config()
    contract = run_contract(run, config, workspace)
    base_id = f"base-hf:{config.base_model}"
    bases.setdefault(base_id, ChatModelSpec(id=base_id, label=f"base · {config.base_model} (transformers)", kind="hf",
                                            base_model=config.base_model, prompt=contract,
                                            load_in_4bit=bool(config.load_in_4bit)))
    for name in run.adapters():
        if workspace.export_name(run.name, name) in exported_names:
            continue
        model_id = f"run:{run.name}/{name}"
        unexported[model_id] = ChatModelSpec(
            id=model_id, label=f"{run.name} · {name} (transformers, not exported)", kind="hf",
            base_model=config.base_model, adapter_dir=str(run.files.adapter_dir(name)), prompt=contract,
            load_in_4bit=bool(config.load_in_4bit))


def run_contract(run: RunDir, config: TrainConfig, workspace: Workspace) -> PromptContract:
    """How the run's adapters are prompted; a run from before contracts were recorded, with no final
    adapter, is read as that version wrote them (Llama-3's tokens, the dataset's speakers)."""
    contract = run.prompt_contract()
    if contract is not None:
        return contract
    report = artifacts.read(DatasetPaths(workspace.relocate(config.dataset)).report, DatasetReport)
    return AdapterInfo.from_dict({"base_model": config.base_model, "prompt_format": config.prompt_format,
                                  "speakers": report.speakers if report else "blog"}).prompt


def _unreadable(where: str, problem: artifacts.UnreadableFile) -> ChatModelSpec:
    return ChatModelSpec(id=UNREADABLE + where, label=f"⚠️ {where}: cannot be read ({problem.reason})", kind="gguf",
                         problem=str(problem), problem_ko=problem.ko)


def choices(models: dict[str, ChatModelSpec]) -> list[tuple[str, str]]:
    """(label, id) pairs for a picker."""
    return [(spec.label, model_id) for model_id, spec in models.items()]


def resolve(choice: str | None, workspace: Workspace, models: dict[str, ChatModelSpec] | None = None) -> ChatModelSpec:
    """A model id from chat_models() (a label works too), or a path to a GGUF file the user typed."""
    models = chat_models(workspace) if models is None else models
    if not choice:
        raise UserError("Choose a model to chat with (export one in the Export tab, or give a .gguf path).",
                        ko="대화할 모델을 고르세요 (내보내기 탭에서 모델을 내보내거나 .gguf 경로를 입력하세요).")
    if choice in models:
        return models[choice]
    by_label = next((spec for spec in models.values() if spec.label == choice), None)
    if by_label is not None:
        return by_label
    if choice.startswith(UNREADABLE):
        raise UserError(f"{choice.removeprefix(UNREADABLE)} can no longer be found in this workspace.",
                        ko=f"{choice.removeprefix(UNREADABLE)}을(를) 이 작업 폴더에서 더 찾을 수 없습니다.")
    path = Path(choice.removeprefix("path:").strip()).expanduser()
    if path.suffix.lower() == ".gguf":
        return gguf_spec(path)
    raise UserError(f"'{choice}' is neither a model in this workspace nor a path to a .gguf file.",
                    ko=f"'{choice}'은(는) 이 작업 폴더의 모델도, .gguf 파일 경로도 아닙니다.")


def label_of(model_id: str | None, models: dict[str, ChatModelSpec]) -> str | None:
    spec = models.get(model_id or "")
    return spec.label if spec else model_id


def default_pair(models: dict[str, ChatModelSpec]) -> tuple[str | None, str | None]:
    """(A, B) ids for Compare: the newest fine-tuned GGUF as B, and its base model as A."""
    tuned = [spec for spec in models.values() if spec.id.startswith("export:")]
    if not tuned:
        tuned = [spec for spec in models.values() if spec.id.startswith("run:")]
    if not tuned:  # a chat-only Space: the GGUF files it ships; a new workspace: the demo base
        loose = [model_id for model_id in models if model_id.startswith("file:")]
        if loose:
            return None, loose[0]
        return (DEMO_BASE, DEMO_BASE) if DEMO_BASE in models else (None, None)
    newest = _source(tuned[0].id)
    fine_tuned = min((spec for spec in tuned if _source(spec.id) == newest), key=_preference)
    bases = [spec for spec in models.values() if spec.id.startswith("base-") and spec.base_model == fine_tuned.base_model]
    bases.sort(key=lambda spec: 0 if spec.id.startswith("base-gguf:") else 1)
    return (bases[0].id if bases else None), fine_tuned.id


def _source(model_id: str) -> str:
    """The export or run a model id belongs to."""
    return model_id.split(":", 1)[1].split("/", 1)[0]


def _preference(spec: ChatModelSpec) -> int:
    return PREFERRED_KINDS.index(spec.file_kind) if spec.file_kind in PREFERRED_KINDS else len(PREFERRED_KINDS)
