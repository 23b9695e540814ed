"""The workspace folder, the only place the app keeps state, and the name of every path in it:
datasets, runs and their files, exports and their files, votes, saved chats, Spaces."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError

DEFAULT_WORKSPACE = "workspace"
WORKSPACE_ENV = "TUNER_WORKSPACE"
_SAFE_NAME = re.compile(r"^[\w가-힣][\w가-힣.\-]*$")
NAME_LENGTH = 64            # a dataset's or a run's name
EXPORT_NAME_LENGTH = 100    # <run>-<checkpoint>
FINAL = "final"  # a run's final adapter, as opposed to one of its checkpoints
# Top-level folders of a workspace, for finding a path again after the workspace moved.
FOLDERS = ("uploads", "datasets", "runs", "exports", "models", "samples", "chats", "spaces", "evaluations")


@dataclass(frozen=True)
class DatasetPaths:
    """A prepared dataset's folder."""

    path: Path

    train = property(lambda self: self.path / "train.jsonl")                    # DatasetExample lines
    val = property(lambda self: self.path / "val.jsonl")
    report = property(lambda self: self.path / "report.json")                  # DatasetReport

    def split(self, name: str) -> Path:
        return {"train": self.train, "val": self.val}[name]

    def is_dataset(self) -> bool:
        return self.report.is_file() and self.train.is_file()


@dataclass(frozen=True)
class RunPaths:
    """A training run's folder: the run's only state."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    config = property(lambda self: self.path / "config.json")                    # TrainConfig, as resolved
    requested_config = property(lambda self: self.path / "requested_config.json")  # TrainConfig, as asked for
    status = property(lambda self: self.path / "status.json")                    # RunStatus
    metrics = property(lambda self: self.path / "metrics.jsonl")                 # MetricsRow lines
    prompt = property(lambda self: self.path / "prompt.json")                    # PromptContract of its adapters
    download = property(lambda self: self.path / "download.json")                # DownloadProgress of its base
    checkpoints = property(lambda self: self.path / "checkpoints")               # checkpoint-N folders
    adapter = property(lambda self: self.path / "adapter")                       # the final adapter
    log = property(lambda self: self.path / "train.log")
    process_log = property(lambda self: self.path / "process.log")               # output of a launched process
    stop = property(lambda self: self.path / "stop")                             # present while a stop is asked
    export_lock = property(lambda self: self.path / ".export.lock")              # held while one is exported

    def adapter_dir(self, checkpoint: str | None) -> Path:
        return self.adapter if checkpoint in (None, FINAL) else self.checkpoints / checkpoint

    @staticmethod
    def adapter_info(adapter_dir: Path) -> Path:
        return Path(adapter_dir) / "training.json"                             # AdapterInfo


@dataclass(frozen=True)
class ExportPaths:
    """An export's folder: GGUF files, their verification and Modelfiles, the manifest, the job's files."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    manifest = property(lambda self: self.path / "export.json")                 # ExportManifest
    status = property(lambda self: self.path / "status.json")                   # ExportStatus
    log = property(lambda self: self.path / "export.log")
    process_log = property(lambda self: self.path / "process.log")             # output of a launched process
    stop = property(lambda self: self.path / "stop")
    merged = property(lambda self: self.path / "merged")                        # the merged Hugging Face folder
    base_gguf = property(lambda self: self.path / "base-f16.gguf")              # the base, for the GGUF LoRA
    lora_gguf = property(lambda self: self.path / "lora-f16.gguf")
    evaluation = property(lambda self: self.path / "evaluation")              # EvaluationPaths (export --evaluate)

    def gguf(self, kind: str) -> Path:
        return self.lora_gguf if kind == "lora" else self.path / f"model-{kind}.gguf"

    @staticmethod
    def verify_report(gguf_path: Path) -> Path:
        return Path(gguf_path).with_suffix(".verify.json")                      # Verification

    @staticmethod
    def privacy_check(gguf_path: Path) -> Path:
        return Path(gguf_path).with_suffix(".privacy.json")                     # PrivacyCheck (before Publish)

    @staticmethod
    def modelfile(gguf_path: Path) -> Path:
        return Path(gguf_path).with_name(f"{Path(gguf_path).stem}.Modelfile")


@dataclass(frozen=True)
class EvaluationPaths:
    """An evaluation's folder (evaluations/NAME, or an export's evaluation/): its results and the job's files."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    results = property(lambda self: self.path / "evaluation.json")             # Evaluation
    request = property(lambda self: self.path / "request.json")                # EvaluationRequest
    status = property(lambda self: self.path / "status.json")                  # EvaluationStatus
    log = property(lambda self: self.path / "evaluate.log")
    process_log = property(lambda self: self.path / "process.log")             # output of a launched process
    stop = property(lambda self: self.path / "stop")


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, root: str | os.PathLike | None = None) -> "Workspace":
        chosen = Path(root or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE).expanduser()
        if chosen.exists() and not chosen.is_dir():
            raise UserError(f"The workspace {chosen} is a file, not a folder: choose a folder (--workspace DIR).",
                            ko=f"작업 폴더 {chosen}이(가) 폴더가 아니라 파일입니다. 폴더를 고르세요(--workspace DIR).")
        workspace = cls(chosen.resolve())
        try:
            for folder in (workspace.uploads, workspace.datasets, workspace.runs, workspace.exports, workspace.models):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"Could not create the workspace {chosen}: {err.strerror or err}",
                            ko=f"작업 폴더 {chosen}을(를) 만들지 못했습니다: {err.strerror or err}") from None
        return workspace

    uploads = property(lambda self: self.root / "uploads")
    datasets = property(lambda self: self.root / "datasets")
    runs = property(lambda self: self.root / "runs")
    exports = property(lambda self: self.root / "exports")
    models = property(lambda self: self.root / "models")
    demo_gguf = property(lambda self: self.models / "demo-gguf" / "demo-f16.gguf")  # the demo base, to chat with
    quickstart = property(lambda self: self.root / "quickstart.json")                # QuickstartState
    samples = property(lambda self: self.root / "samples")
    chats = property(lambda self: self.root / "chats")          # SavedConversation files
    spaces = property(lambda self: self.root / "spaces")        # chat-only Space folders built by Publish
    evaluations = property(lambda self: self.root / "evaluations")  # EvaluationPaths folders
    votes = property(lambda self: self.root / "votes.jsonl")    # Vote lines
    training_lock = property(lambda self: self.root / ".training.lock")

    def dataset_dir(self, name: str) -> Path:
        return self.datasets / check_name(name)

    def evaluation(self, name: str) -> EvaluationPaths:
        return EvaluationPaths(self.evaluations / check_name(name, EXPORT_NAME_LENGTH))

    def dataset_names(self) -> list[str]:
        return sorted(p.name for p in self.datasets.iterdir() if DatasetPaths(p).train.is_file())

    def run(self, name: str) -> RunPaths:
        return RunPaths(self.runs / check_name(name))

    def export(self, name: str) -> ExportPaths:
        return ExportPaths(self.exports / check_name(name, EXPORT_NAME_LENGTH))

    @staticmethod
    def export_name(run_name: str, checkpoint: str | None) -> str:
        """exports/<run>-<checkpoint or final>: one folder per adapter exported."""
        return f"{run_name}-{checkpoint or FINAL}"

    def inside(self, path: str | os.PathLike) -> Path:
        """Resolves a user-given path and refuses one that leaves the workspace."""
        resolved = (self.root / path).resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise UserError(f"{path} is outside the workspace ({self.root}); only paths inside it can be used.",
                            ko=f"{path}은(는) 작업 폴더({self.root}) 밖에 있습니다. 작업 폴더 안의 경로만 쓸 수 있습니다.")
        return resolved

    def relative(self, path: str | os.PathLike) -> str:
        """A path inside the workspace as it is written in files (relative); others stay absolute."""
        resolved = Path(path).resolve()
        return str(resolved.relative_to(self.root)) if self.root in resolved.parents else str(resolved)

    def relocate(self, recorded: str | os.PathLike) -> Path:
        """A path recorded in a file, found again: as it is when it exists; relative to the workspace;
        else, for a workspace that was moved, at its place under this workspace's top-level folders."""
        path = Path(recorded)
        if not path.is_absolute():
            return self.root / path
        if path.exists():
            return path
        parts = path.parts
        for index in range(len(parts) - 1, -1, -1):
            if parts[index] in FOLDERS and (candidate := self.root.joinpath(*parts[index:])).exists():
                return candidate
        return path


def check_name(name: str, length: int = NAME_LENGTH) -> str:
    name = (name or "").strip()
    if not _SAFE_NAME.match(name) or len(name) > length:
        raise UserError(
            f"'{name}' is not a usable name: use letters, digits, Hangul, '-', '_' or '.', "
            f"start with a letter or digit, at most {length} characters.",
            ko=f"'{name}'은(는) 쓸 수 없는 이름입니다. 영문자, 숫자, 한글, '-', '_', '.'만 쓸 수 있고, "
               f"글자나 숫자로 시작하는 {length}자 이하의 이름이어야 합니다.",
            field="name",
        )
    return name
