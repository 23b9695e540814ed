"""A training run's directory: the only state of a run, read the same way by the training process,
the UI (after any page reload or app restart) and the tests.

    RUN_DIR/config.json      the resolved TrainConfig
    RUN_DIR/status.json      {"state": running|completed|failed|stopped, "error"?, "error_ko"?, "pid", "step", ...}
    RUN_DIR/metrics.jsonl    one object per logging step: step, loss, learning_rate, tokens_per_s, ...
    RUN_DIR/checkpoints/     periodic checkpoints (checkpoint-N)
    RUN_DIR/adapter/         the final PEFT adapter and tokenizer
    RUN_DIR/train.log        the training process's log
    RUN_DIR/stop             present while a stop is requested
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core import fileio
from core.errors import UserError
from core.i18n import Text, text_in

STATES = ("running", "completed", "failed", "stopped")
LOCK_NAME = ".training.lock"
DIED = Text("The training process ended unexpectedly (killed, or out of memory?). Its checkpoints are kept: "
            "press Resume to continue.",
            "학습 프로세스가 예기치 않게 끝났습니다(강제 종료되었거나 메모리가 부족했나요?). 체크포인트는 남아 있으니 "
            "이어서 학습을 누르세요.")


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.path / "adapter"

    @property
    def log_path(self) -> Path:
        return self.path / "train.log"

    @property
    def stop_path(self) -> Path:
        return self.path / "stop"

    def write_status(self, state: str, **fields) -> dict:
        assert state in STATES
        status = {**(fileio.read_json(self.status_path, {}) or {}), **fields, "state": state,
                  "updated_at": time.time()}
        if state != "failed":
            status.pop("error", None)
            status.pop("error_ko", None)
        elif "error" in fields:  # a new error: its translation (if any) replaces the old one's
            status.pop("error_ko", None)
            status["error"] = str(fields["error"])
            if (korean := text_in(fields["error"], "ko")) != status["error"]:
                status["error_ko"] = korean
        fileio.write_json(self.status_path, status)
        return status

    def status(self) -> dict:
        """The run's status; a run whose process died without saying so is reported (and recorded) failed."""
        status = fileio.read_json(self.status_path)
        if status is None:
            return {"state": "missing"}
        if status.get("state") == "running" and not _alive(status.get("pid")):
            status = self.write_status("failed", error=DIED)
        return status

    def metrics(self) -> list[dict]:
        if not self.metrics_path.is_file():
            return []
        rows = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line being written right now
                continue
        return rows

    def append_metrics(self, row: dict) -> None:
        with self.metrics_path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")

    def last_checkpoint(self) -> Path | None:
        found = [p for p in self.checkpoints.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
        return max(found, key=checkpoint_step) if found else None

    def checkpoint_names(self) -> list[str]:
        return sorted((p.name for p in self.checkpoints.glob("checkpoint-*")), key=lambda n: int(n.split("-")[-1]))

    def request_stop(self) -> None:
        self.stop_path.touch()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.is_file():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 64 * 1024))
            text = log.read().decode("utf-8", errors="replace")
        # Progress bars rewrite their line with \r: keep only what a terminal would show.
        return "\n".join(line.rsplit("\r", 1)[-1] for line in text.splitlines()[-lines:])


def list_runs(runs_root: Path) -> list[RunDir]:
    """Runs, newest first."""
    if not runs_root.is_dir():
        return []
    runs = [RunDir(p) for p in runs_root.iterdir() if (p / "status.json").is_file()]
    return sorted(runs, key=lambda run: run.status_path.stat().st_mtime, reverse=True)


@contextmanager
def training_lock(workspace_root: Path):
    """Held while a training runs: one training at a time per workspace. The OS releases it when the
    process ends in any way, so a killed run never blocks the next one."""
    workspace_root.mkdir(parents=True, exist_ok=True)
    with (workspace_root / LOCK_NAME).open("a+") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "another run"
            raise UserError(f"A training is already running in this workspace ({holder}); "
                            "stop it or wait for it to finish before starting another.",
                            ko=f"이 작업 폴더에서 이미 학습이 진행 중입니다({holder}). 다른 학습을 시작하려면 "
                               "먼저 중지하거나 끝날 때까지 기다리세요.") from None
        lock_file.truncate(0)
        lock_file.write(f"pid {os.getpid()}")
        lock_file.flush()
        try:
            yield
        finally:
            lock_file.truncate(0)
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def training_running(workspace_root: Path) -> str | None:
    """Who holds the training lock, or None when no training runs."""
    lock_path = workspace_root / LOCK_NAME
    if not lock_path.exists():
        return None
    with lock_path.open("a+") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            return lock_file.read().strip() or "another run"
        fcntl.flock(lock_file, fcntl.LOCK_UN)
        return None


def train_command(dataset: str, base_model: str, run_dir: Path, config_file: Path | None = None,
                  max_steps: int | None = None, resume: bool = False) -> list[str]:
    """The command the UI launches (and shows), the same one a user can type."""
    command = [sys.executable, "-m", "tuning.train", "--dataset", dataset, "--base-model", base_model,
               "--out", str(run_dir)]
    if max_steps:
        command += ["--max-steps", str(max_steps)]
    if config_file:
        command += ["--config", str(config_file)]
    if resume:
        command.append("--resume")
    return command


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (ended, not yet reaped by the app that started it) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def checkpoint_step(path: Path) -> int:
    """The step a `checkpoint-N` folder was saved at (-1 for a name without one)."""
    match = re.search(r"(\d+)$", path.name)
    return int(match.group(1)) if match else -1
