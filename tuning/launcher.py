"""Starting, stopping and resuming training runs from the app: each run is `python -m tuning.train`
in a process (and session) of its own, so it outlives page reloads and app restarts."""
from __future__ import annotations

import shlex
import time
from pathlib import Path

from core import artifacts, jobs
from core.artifacts import TrainConfig
from core.errors import UserError
from core.i18n import Text
from core.runs import RunDir, list_runs
from core.workspace import Workspace, check_name
from tuning import distributed
from tuning.config import Hardware, preflight

BUSY = Text("A training is already running in this workspace ({holder}); stop it or wait for it to finish before "
            "starting another.",
            "이 작업 폴더에서 이미 학습이 진행 중입니다({holder}). 다른 학습을 시작하려면 먼저 중지하거나 끝날 때까지 "
            "기다리세요.")
STARTING_GRACE_S = 90  # a run launched this recently may not hold the training lock yet


def train_command(dataset: str, base_model: str, run_dir: Path, config_file: Path | None = None,
                  max_steps: int | None = None, resume: bool = False) -> list[str]:
    """The command the UI launches (and shows), the same one a user can type."""
    command = jobs.python_module("tuning.train", "--dataset", dataset, "--base-model", base_model, "--out", str(run_dir))
    if max_steps:
        command += ["--max-steps", str(max_steps)]
    if config_file:
        command += ["--config", str(config_file)]
    if resume:
        command.append("--resume")
    return command


def shown(command: list[str], config: TrainConfig, run: RunDir, workspace: Workspace, resume: bool = False) -> str:
    """The launched command as the Train tab shows it; with several processes, also the torchrun
    command it starts."""
    text = shlex.join(command)
    if config.processes > 1:
        workers = distributed.worker_command(config.processes, run.path, run.files.config, workspace.root, resume)
        text += "\n# " + distributed.shown_command(workers)
    return text


def start(workspace: Workspace, config: TrainConfig, run_name: str, hardware: Hardware,
          hub_token: str | None = None) -> tuple[RunDir, list[str]]:
    """Refuses what cannot start (bad config for this machine, a run already going, a taken name),
    then launches the run and returns it with the command it runs. `hub_token` (for a gated model's
    download) reaches the process in its environment only: never a file, the command or a log."""
    preflight(config, hardware, workspace)
    _refuse_if_busy(workspace)
    run = RunDir(workspace.run(check_name(run_name)).path)
    if run.files.status.exists() or run.files.requested_config.exists():
        raise UserError(f"A run named {run.name} already exists; choose another name, or resume it.",
                        ko=f"'{run.name}' 실행이 이미 있습니다. 다른 이름을 고르거나 그 실행을 이어서 학습하세요.")
    run.path.mkdir(parents=True, exist_ok=True)
    artifacts.write(run.files.requested_config, config)
    command = train_command(config.dataset, config.base_model, run.path, run.files.requested_config)
    _launch(command, workspace, run, hub_token)
    return run, command


def resume(workspace: Workspace, run: RunDir, hardware: Hardware, hub_token: str | None = None) -> list[str]:
    """Continues a stopped or failed run from its last checkpoint, or from step 0 if it has none."""
    state = run.state()
    if state not in ("stopped", "failed"):
        raise UserError(f"Only a stopped or failed run can be resumed; {run.name} is {state}.",
                        ko=f"중지되었거나 실패한 실행만 이어서 학습할 수 있습니다. {run.name}의 상태는 {state}입니다.")
    _refuse_if_busy(workspace)
    config = run.config()
    config = config.model_copy(update={"dataset": str(workspace.relocate(config.dataset))})
    preflight(config, hardware, workspace)
    command = train_command(config.dataset, config.base_model, run.path, resume=True)
    _launch(command, workspace, run, hub_token)
    return command


def stop(run: RunDir) -> None:
    """Asks the run to stop after its current step; it saves a checkpoint and ends as 'stopped'."""
    state = run.state()
    if state != "running":
        raise UserError(f"{run.name} is not running ({state}).", ko=f"{run.name}은(는) 실행 중이 아닙니다({state}).")
    run.request_stop()


def starting_runs(workspace: Workspace) -> list[RunDir]:
    """Runs launched in the last moments whose process has not yet written a status."""
    requested = [RunDir(path.parent) for path in workspace.runs.glob("*/requested_config.json")]
    return [run for run in requested if not run.files.status.exists()
            and time.time() - run.files.requested_config.stat().st_mtime < STARTING_GRACE_S]


def _refuse_if_busy(workspace: Workspace) -> None:
    holder = jobs.holder(workspace.training_lock) or _running_run(workspace)
    starting = starting_runs(workspace)
    if holder or starting:
        who = holder or f"run {starting[0].name} is starting"
        who_ko = holder or f"실행 {starting[0].name} 시작 중"
        raise UserError(f"A training is already running in this workspace ({who}); stop it first.",
                        ko=f"이 작업 폴더에서 이미 학습이 진행 중입니다({who_ko}). 먼저 중지하세요.")


def _running_run(workspace: Workspace) -> str | None:
    """A run whose process is running though the lock is free: one between two attempts (the retry
    after running out of GPU memory starts a fresh process)."""
    for entry in list_runs(workspace.runs):
        if entry.problem is None and entry.run.state() == "running":
            return f"run {entry.run.name}"
    return None


def _launch(command: list[str], workspace: Workspace, run: RunDir, hub_token: str | None) -> None:
    env = {"TUNER_WORKSPACE": str(workspace.root)}
    if hub_token and hub_token.strip():
        env["HF_TOKEN"] = hub_token.strip()
    jobs.spawn(command, run.files.process_log, env=env)
