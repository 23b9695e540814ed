"""Starting, stopping and resuming training runs from the app: each run is `python -m tuning.train`
in a process (and session) of its own, so it outlives page reloads and app restarts."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from core.errors import UserError
from core.workspace import Workspace, check_name
from tuning.config import Hardware, TrainConfig
from tuning.runs import RunDir, train_command, training_running

ROOT = Path(__file__).resolve().parent.parent


def start(workspace: Workspace, config: TrainConfig, run_name: str, hardware: Hardware) -> tuple[RunDir, list[str]]:
    """Refuses what cannot start (bad config for this machine, a run already going, a taken name),
    then launches the run and returns it with the command it runs."""
    from tuning.train import preflight

    preflight(config, hardware)
    _refuse_if_busy(workspace)
    run = RunDir(workspace.runs / check_name(run_name))
    if run.status_path.exists():
        raise UserError(f"A run named {run.name} already exists; choose another name, or resume it.",
                        ko=f"'{run.name}' 실행이 이미 있습니다. 다른 이름을 고르거나 그 실행을 이어서 학습하세요.")
    run.path.mkdir(parents=True, exist_ok=True)
    config_file = run.path / "requested_config.json"
    config.save(config_file)
    command = train_command(config.dataset, config.base_model, run.path, config_file)
    _spawn(command, workspace, run)
    return run, command


def resume(workspace: Workspace, run: RunDir) -> list[str]:
    """Continues a stopped or failed run from its last checkpoint, or from step 0 if it has none."""
    state = run.status().get("state")
    if state not in ("stopped", "failed"):
        raise UserError(f"Only a stopped or failed run can be resumed; {run.name} is {state}.",
                        ko=f"중지되었거나 실패한 실행만 이어서 학습할 수 있습니다. {run.name}의 상태는 {state}입니다.")
    _refuse_if_busy(workspace)
    config = TrainConfig.load(run.config_path)
    command = train_command(config.dataset, config.base_model, run.path, resume=True)
    _spawn(command, workspace, run)
    return command


def stop(run: RunDir) -> None:
    """Asks the run to stop after its current step; it saves a checkpoint and ends as 'stopped'."""
    status = run.status()
    if status.get("state") != "running":
        raise UserError(f"{run.name} is not running ({status.get('state')}).",
                        ko=f"{run.name}은(는) 실행 중이 아닙니다({status.get('state')}).")
    run.request_stop()
    try:
        os.kill(status["pid"], signal.SIGTERM)
    except (ProcessLookupError, KeyError, TypeError):
        pass


STARTING_GRACE_S = 90  # a run launched this recently may not hold the training lock yet


def _refuse_if_busy(workspace: Workspace) -> None:
    holder = training_running(workspace.root)
    starting = [p.parent.name for p in workspace.runs.glob("*/requested_config.json")
                if not (p.parent / "status.json").exists() and time.time() - p.stat().st_mtime < STARTING_GRACE_S]
    if holder or starting:
        who = holder or f"run {starting[0]} is starting"
        who_ko = holder or f"실행 {starting[0]} 시작 중"
        raise UserError(f"A training is already running in this workspace ({who}); stop it first.",
                        ko=f"이 작업 폴더에서 이미 학습이 진행 중입니다({who_ko}). 먼저 중지하세요.")


def _spawn(command: list[str], workspace: Workspace, run: RunDir) -> None:
    env = {**os.environ, "TUNER_WORKSPACE": str(workspace.root), "PYTHONUNBUFFERED": "1"}
    log = (run.path / "process.log").open("ab")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    # Reap it when it ends so it does not linger as a zombie while the app keeps running.
    threading.Thread(target=process.wait, daemon=True).start()
