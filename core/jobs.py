"""Long work in a process of its own (a training run, an export): launched detached so that it
outlives page reloads and app restarts, followed through the typed status file in its folder,
stopped through a stop file or SIGTERM, one at a time behind a lock, its output kept in a log."""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from core import artifacts
from core.artifacts import JobStatus
from core.errors import UserError
from core.i18n import Text, text_in

ROOT = Path(__file__).resolve().parent.parent  # where `python -m …` finds the project's packages
S = TypeVar("S", bound=JobStatus)


def process_start(pid) -> int | None:
    """When the process started (clock ticks since boot), None when there is no such process."""
    try:
        with open(f"/proc/{int(pid)}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[-1].split()
    except (OSError, ValueError, TypeError):
        return None
    return None if fields[0] == "Z" else int(fields[19])  # a zombie (ended, not reaped) has ended


def alive(pid, started: int | None = None, command_marker: str | None = None) -> bool:
    """The job's process is running: that pid exists and is the same process, by its start time, or
    (for a status written before start times were kept) by a marker in its command line."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    running_since = process_start(pid)
    if running_since is None:
        return False
    if started is not None:
        return running_since == started
    if command_marker is not None:
        try:
            return command_marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return False
    return True


def write_status(path: Path, model: type[S], state: str, **fields) -> S:
    """The status file updated: `fields` over what it held, the new state, the time. A new `pid` is
    recorded with its start time. A new error (a core.i18n.Text or UserError) is stored in English with
    its Korean in `error_ko`; any state but failed clears the error."""
    current = _read_quietly(path, model)
    values = {**(current.model_dump() if current else {}), **fields, "state": state, "updated_at": time.time()}
    if "pid" in fields:
        values["pid_started"] = process_start(fields["pid"])
    if state != "failed":
        values.update(error=None, error_ko=None)
    elif "error" in fields:
        message = fields["error"]
        values["error"] = str(message)
        korean = text_in(message, "ko")
        values["error_ko"] = korean if korean != str(message) else None
    status = model.model_validate(values)
    artifacts.write(path, status)
    return status


def running(status: JobStatus | None, command_marker: str) -> bool:
    """The status says running, and its process is that job's, still running."""
    return bool(status and status.state == "running" and alive(status.pid, status.pid_started, command_marker))


def read_status(path: Path, model: type[S], died: Text, command_marker: str, stop_path: Path | None = None) -> S | None:
    """The status; a job whose process ended without saying so is reported (and recorded) failed with
    `died`, or stopped when a stop had been asked for (a stop that came before the job could handle it).
    None when there is no status file; UnreadableFile when it cannot be read."""
    status = artifacts.read(path, model)
    if status is None or status.state != "running" or running(status, command_marker):
        return status
    latest = artifacts.read(path, model)
    if (latest.state, latest.pid) != (status.state, status.pid):  # it wrote its own ending meanwhile
        return latest
    if stop_path is not None and stop_path.exists():
        return write_status(path, model, "stopped")
    return write_status(path, model, "failed", error=died)


def _read_quietly(path: Path, model: type[S]) -> S | None:
    try:
        return artifacts.read(path, model)
    except artifacts.UnreadableFile:  # a damaged status is replaced by the one being written
        return None


class StopRequest:
    """Set by SIGTERM/SIGINT or by the job's stop file, or when the process leading this one (`leader`,
    a pid) has ended; the job stops at its next safe point."""

    def __init__(self, stop_path: Path, leader: int | None = None, signals: bool = True):
        self.stop_path = stop_path
        self.leader = leader
        self.leader_started = process_start(leader) if leader else None
        self._signalled = False
        for signum in (signal.SIGTERM, signal.SIGINT) if signals else ():
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame):
        self._signalled = True

    @property
    def requested(self) -> bool:
        if self.leader and not alive(self.leader, self.leader_started):
            return True
        return self._signalled or self.stop_path.exists()


def request_stop(stop_path: Path, read_status: Callable[[], JobStatus | None], command_marker: str) -> None:
    """Asks a job to stop: its stop file, then SIGTERM to its process (only when it is that job's)."""
    stop_path.touch()
    status = read_status()  # after the stop file: a job found ended now reads as stopped
    if running(status, command_marker):
        try:
            os.kill(status.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


@contextmanager
def failures_recorded(write_status: Callable[..., JobStatus]) -> Iterator[None]:
    """A job's failure written to its status before it propagates: a UserError with its message (and
    its Korean), anything else with its type, so the app never shows a job that just vanished."""
    try:
        yield
    except UserError as err:
        write_status("failed", error=err)
        raise
    except Exception as err:  # noqa: BLE001 - the job must end as failed with a reason, whatever broke
        write_status("failed", error=f"{type(err).__name__}: {err}")
        raise


@contextmanager
def exclusive(lock_path: Path, busy: Text) -> Iterator[None]:
    """Held while a job runs, so that only one runs; the OS releases it when the process ends in any
    way, so a killed job never blocks the next. `busy` (with "{holder}") says who holds it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "another process"
            raise UserError(str(busy).format(holder=holder), ko=text_in(busy, "ko").format(holder=holder)) from None
        lock_file.truncate(0)
        lock_file.write(f"pid {os.getpid()}")
        lock_file.flush()
        try:
            yield
        finally:
            lock_file.truncate(0)
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def holder(lock_path: Path) -> str | None:
    """Who holds the lock ("pid N"), or None when it is free."""
    if not lock_path.exists():
        return None
    with lock_path.open("a+") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            return lock_file.read().strip() or "another process"
        fcntl.flock(lock_file, fcntl.LOCK_UN)
        return None


def spawn(command: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
    """Starts `command` in a process and session of its own (a page reload, an app restart or Ctrl-C
    in the app's terminal does not end it), its output appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    # Reap it when it ends so it does not linger as a zombie while the app keeps running.
    threading.Thread(target=process.wait, daemon=True).start()
    return process


def python_module(module: str, *args: str) -> list[str]:
    """The command line for `python -m module args…` with this interpreter: what a user can type."""
    return [sys.executable, "-m", module, *args]


def tee_output(log_path: Path) -> None:
    """Everything the process prints also goes to `log_path`."""
    log = log_path.open("a", encoding="utf-8", buffering=1)

    class Tee:
        def __init__(self, stream):
            self.stream = stream

        def write(self, text):
            log.write(text)
            return self.stream.write(text)

        def flush(self):
            log.flush()
            self.stream.flush()

        def __getattr__(self, name):
            return getattr(self.stream, name)

    sys.stdout, sys.stderr = Tee(sys.stdout), Tee(sys.stderr)


def log_tail(log_path: Path, lines: int = 40) -> str:
    if not log_path.is_file():
        return ""
    with log_path.open("rb") as log:
        log.seek(0, os.SEEK_END)
        log.seek(max(0, log.tell() - 64 * 1024))
        text = log.read().decode("utf-8", errors="replace")
    # Progress bars rewrite their line with \r: keep only what a terminal would show.
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.splitlines()[-lines:])
