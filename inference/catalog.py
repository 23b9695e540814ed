"""Everything in the workspace one can chat with, by label: exported GGUF files (and GGUF LoRAs on
their base), the base models, checkpoints not yet exported (through transformers), and GGUF files
dropped into `models/`."""
from __future__ import annotations

from pathlib import Path

from core import fileio
from core.errors import UserError
from core.workspace import Workspace
from inference.chat import ChatModelSpec, gguf_spec
from inference.prompt import PromptFormat, format_of_adapter
from tuning.config import TrainConfig
from tuning.runs import list_runs

FINAL = "final"
PREFERRED_KINDS = ("q4_k_m", "q5_k_m", "q6_k", "q8_0", "f16", "lora")  # the default fine-tuned pick


def chat_models(workspace: Workspace) -> dict[str, ChatModelSpec]:
    """Label → what to load; fine-tuned exports first (newest first), then bases, checkpoints, loose files."""
    found: dict[str, ChatModelSpec] = {}
    bases: dict[str, ChatModelSpec] = {}
    exports = _exports(workspace)
    for export_dir, summary in exports:
        fmt = PromptFormat.model_validate(summary.get("prompt") or {})
        for result in summary.get("files", []):
            path = export_dir / result["file"]
            if not path.is_file():
                continue
            if result["kind"] == "lora":
                base_path = export_dir / result.get("applies_to", "base-f16.gguf")
                if base_path.is_file():
                    found[f"{export_dir.name} · LoRA on base"] = ChatModelSpec(
                        label=f"{export_dir.name} · LoRA on base", kind="gguf", gguf_path=str(base_path),
                        lora_path=str(path), base_model=summary.get("base_model"), prompt=fmt)
            else:
                label = f"{export_dir.name} · {result['kind']}"
                found[label] = ChatModelSpec(label=label, kind="gguf", gguf_path=str(path),
                                             base_model=summary.get("base_model"), prompt=fmt)
        base_gguf = export_dir / "base-f16.gguf"
        label = f"base · {summary.get('base_model')} · f16 GGUF"
        if base_gguf.is_file() and label not in bases:
            bases[label] = ChatModelSpec(label=label, kind="gguf", gguf_path=str(base_gguf),
                                         base_model=summary.get("base_model"), prompt=fmt)
    exported = {export_dir.name for export_dir, _ in exports}
    unexported: dict[str, ChatModelSpec] = {}
    for run in list_runs(workspace.runs):
        config = _run_config(run.config_path)
        if config is None:
            continue
        fmt = format_of_adapter(run.adapter, config.dataset, config.prompt_format)
        label = f"base · {config.base_model} (transformers)"
        bases.setdefault(label, ChatModelSpec(label=label, kind="hf", base_model=config.base_model, prompt=fmt))
        checkpoints = [(FINAL, run.adapter)] if (run.adapter / "adapter_config.json").is_file() else []
        checkpoints += [(name, run.checkpoints / name) for name in reversed(run.checkpoint_names())
                        if (run.checkpoints / name / "adapter_config.json").is_file()]
        for name, adapter_dir in checkpoints:
            if f"{run.name}-{name}" in exported:
                continue
            label = f"{run.name} · {name} (transformers, not exported)"
            unexported[label] = ChatModelSpec(label=label, kind="hf", base_model=config.base_model,
                                              adapter_dir=str(adapter_dir), prompt=fmt)
    loose = {}
    for path in sorted(workspace.models.rglob("*.gguf")):
        label = f"models/{path.relative_to(workspace.models)}"
        loose[label] = gguf_spec(path, label=label)
    return {**found, **bases, **unexported, **loose}


def resolve(choice: str | None, workspace: Workspace, models: dict[str, ChatModelSpec] | None = None) -> ChatModelSpec:
    """A label from chat_models(), or a path to a GGUF file the user typed."""
    models = chat_models(workspace) if models is None else models
    if not choice:
        raise UserError("Choose a model to chat with (export one in the Export tab, or give a .gguf path).",
                        ko="대화할 모델을 고르세요 (내보내기 탭에서 모델을 내보내거나 .gguf 경로를 입력하세요).")
    if choice in models:
        return models[choice]
    path = Path(choice.strip()).expanduser()
    if path.suffix.lower() == ".gguf":
        return gguf_spec(path)
    raise UserError(f"'{choice}' is neither a model in this workspace nor a path to a .gguf file.",
                    ko=f"'{choice}'은(는) 이 작업 폴더의 모델도, .gguf 파일 경로도 아닙니다.")


def default_pair(models: dict[str, ChatModelSpec]) -> tuple[str | None, str | None]:
    """(A, B) for Compare: the newest fine-tuned GGUF as B, and its base model as A."""
    tuned = [spec for spec in models.values() if not spec.label.startswith("base · ") and spec.kind == "gguf"
             and not spec.label.startswith("models/")]
    if not tuned:
        tuned = [spec for spec in models.values() if spec.adapter_dir]
    if not tuned:  # a chat-only Space: the GGUF files it ships
        loose = [label for label in models if label.startswith("models/")]
        return (None, loose[0]) if loose else (None, None)
    newest_export = tuned[0].label.split(" · ")[0]
    of_newest = [spec for spec in tuned if spec.label.split(" · ")[0] == newest_export]
    fine_tuned = min(of_newest, key=lambda spec: _preference(spec.label))
    bases = [label for label, spec in models.items() if label.startswith("base · ")
             and spec.base_model == fine_tuned.base_model]
    bases.sort(key=lambda label: 0 if label.endswith("GGUF") else 1)
    return (bases[0] if bases else None), fine_tuned.label


def _preference(label: str) -> int:
    kind = label.split(" · ")[-1].replace("LoRA on base", "lora")
    return PREFERRED_KINDS.index(kind) if kind in PREFERRED_KINDS else len(PREFERRED_KINDS)


def _exports(workspace: Workspace) -> list[tuple[Path, dict]]:
    exports = [(path.parent, fileio.read_json(path)) for path in workspace.exports.glob("*/export.json")]
    return sorted(((folder, summary) for folder, summary in exports if summary),
                  key=lambda item: item[1].get("created_at", 0), reverse=True)


def _run_config(path: Path) -> TrainConfig | None:
    try:
        return TrainConfig.load(path)
    except Exception:  # a run folder without a readable config cannot be chatted with
        return None
