"""A training run's folder read and written through its typed files, the same way by the training
process, the app (after any page reload or restart), chat, export and the tests; and the list of a
workspace's runs, where a run that cannot be read is listed with its reason."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core import artifacts, jobs
from core.artifacts import AdapterInfo, MetricsRow, PromptContract, RunStatus, TrainConfig, UnreadableFile
from core.i18n import Text
from core.workspace import FINAL, RunPaths

COMMAND = "tuning.train"  # in the command line of a training process
DIED = Text("The training process ended unexpectedly (killed, or out of memory?). Its checkpoints are kept: "
            "press Resume to continue.",
            "학습 프로세스가 예기치 않게 끝났습니다(강제 종료되었거나 메모리가 부족했나요?). 체크포인트는 남아 있으니 "
            "이어서 학습을 누르세요.")


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def files(self) -> RunPaths:
        return RunPaths(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    def status(self) -> RunStatus | None:
        """None before the training process has written one; a run whose process died is failed."""
        return jobs.read_status(self.files.status, RunStatus, DIED, COMMAND, self.files.stop)

    def state(self) -> str:
        """running, completed, failed, stopped; "missing" before a status exists."""
        status = self.status()
        return status.state if status else "missing"

    def write_status(self, state: str, **fields) -> RunStatus:
        return jobs.write_status(self.files.status, RunStatus, state, **fields)

    def config(self) -> TrainConfig:
        """The run's resolved config; UnreadableFile when it is missing or invalid."""
        path = self.files.config if self.files.config.is_file() else self.files.requested_config
        return TrainConfig.from_file(path)

    def metrics(self) -> list[MetricsRow]:
        # Not strict: the last line may be being written right now.
        return artifacts.read_rows(self.files.metrics, MetricsRow, strict=False)

    def append_metrics(self, row: MetricsRow) -> None:
        # Fields a row does not have are left out: a training row has no eval_loss, an evaluation no loss.
        artifacts.append_row(self.files.metrics, row, exclude_none=True)

    def adapter_info(self, checkpoint: str | None = None) -> AdapterInfo | None:
        """How the adapter was trained (final, or the run's final one for a checkpoint), None if unknown."""
        for folder in (self.files.adapter_dir(checkpoint), self.files.adapter):
            info = artifacts.read(RunPaths.adapter_info(folder), AdapterInfo)
            if info is not None:
                return info
        return None

    def prompt_contract(self, checkpoint: str | None = None) -> PromptContract | None:
        """How the run's adapters are prompted: written when it started (older runs: beside the final
        adapter); None when neither says, for the caller to derive from the tokenizer."""
        contract = artifacts.read(self.files.prompt, PromptContract)
        if contract is None:
            info = self.adapter_info(checkpoint)
            contract = info.prompt if info else None
        return contract

    def has_adapter(self, checkpoint: str | None = None) -> bool:
        return (self.files.adapter_dir(checkpoint) / "adapter_config.json").is_file()

    def last_checkpoint(self) -> Path | None:
        found = [p for p in self.files.checkpoints.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
        return max(found, key=checkpoint_step) if found else None

    def checkpoint_names(self) -> list[str]:
        return sorted((p.name for p in self.files.checkpoints.glob("checkpoint-*")), key=checkpoint_step_of_name)

    def adapters(self) -> list[str]:
        """What can be exported or chatted with: "final" first, then checkpoints, newest first."""
        names = [FINAL] if self.has_adapter() else []
        return names + [name for name in reversed(self.checkpoint_names()) if self.has_adapter(name)]

    def request_stop(self) -> None:
        jobs.request_stop(self.files.stop, self.status, COMMAND)

    def log_tail(self, lines: int = 40) -> str:
        """The newer of the training log and the launched process's output (which alone says why a
        process refused to start)."""
        logs = [path for path in (self.files.log, self.files.process_log) if path.is_file()]
        newest = max(logs, key=lambda path: path.stat().st_mtime, default=self.files.log)
        return jobs.log_tail(newest, lines)


@dataclass(frozen=True)
class RunEntry:
    """A run folder as listed: the run, or why it cannot be read."""

    run: RunDir
    problem: UnreadableFile | None = None


def list_runs(runs_root: Path) -> list[RunEntry]:
    """Runs, newest first; a folder whose files cannot be read is listed with its problem."""
    if not runs_root.is_dir():
        return []
    entries = []
    for folder in runs_root.iterdir():
        run = RunDir(folder)
        if not folder.is_dir() or not (run.files.status.exists() or run.files.requested_config.exists()):
            continue
        problem = None
        try:
            run.status()
            run.config()
            run.prompt_contract()
        except UnreadableFile as err:
            problem = err
        entries.append(RunEntry(run, problem))
    return sorted(entries, key=lambda entry: _changed(entry.run), reverse=True)


def _changed(run: RunDir) -> float:
    for path in (run.files.status, run.files.requested_config):
        if path.exists():
            return path.stat().st_mtime
    return 0.0


def checkpoint_step(path: Path) -> int:
    """The step a `checkpoint-N` folder was saved at (-1 for a name without one)."""
    return checkpoint_step_of_name(Path(path).name)


def checkpoint_step_of_name(name: str) -> int:
    match = re.search(r"(\d+)$", name)
    return int(match.group(1)) if match else -1
