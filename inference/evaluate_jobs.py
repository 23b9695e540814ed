"""Starting and stopping evaluations from the app: each is `python -m inference.evaluate` in a process
(and session) of its own, followed through its folder's status.json and evaluation.json, so it
outlives page reloads and app restarts, and the Evaluate tab re-attaches to it."""
from __future__ import annotations

import time
from pathlib import Path

from core import jobs
from core.artifacts import EvaluationRequest
from core.errors import UserError
from core.evaluations import EvaluationDir, EvaluationEntry, changed, evaluation_entry, list_evaluations
from core.exports import list_exports
from core.workspace import Workspace, check_name


def evaluate_command(request: EvaluationRequest) -> list[str]:
    """The command the Evaluate tab launches (and shows), the same one a user can type."""
    command = jobs.python_module("inference.evaluate", "--dataset", request.dataset, "--out", request.out_dir)
    for model in request.models:
        command += ["--model", model]
    command += ["--limit", str(request.limit), "--seed", str(request.seed),
                "--max-new-tokens", str(request.max_new_tokens)]
    if request.workspace:
        command += ["--workspace", request.workspace]
    return command


def start(workspace: Workspace, dataset: str, models: list[str], limit: int, seed: int, max_new_tokens: int,
          lang: str) -> tuple[EvaluationDir, list[str]]:
    """Refuses a second evaluation while one runs (they would share the CPU or GPU), then launches it in
    evaluations/<dataset>-<time>."""
    if not models:
        raise UserError("Choose at least one model to evaluate.", ko="평가할 모델을 하나 이상 고르세요.")
    if not dataset or not workspace.dataset_dir(dataset).is_dir():
        raise UserError("Choose a prepared dataset (its held-out conversations are evaluated on).",
                        ko="준비된 데이터셋을 고르세요 (그 검증용 대화로 평가합니다).")
    if under_way := running(workspace):
        busy = under_way[0].name
        raise UserError(f"The evaluation {busy} is running; stop it or wait for it to finish.",
                        ko=f"평가 {busy}이(가) 진행 중입니다. 중지하거나 끝날 때까지 기다리세요.")
    target = EvaluationDir(workspace.evaluation(f"{check_name(dataset)}-{time.strftime('%Y%m%d-%H%M%S')}").path)
    request = EvaluationRequest(dataset=str(workspace.dataset_dir(dataset)), models=models, out_dir=str(target.path),
                                limit=limit, seed=seed, max_new_tokens=max_new_tokens, workspace=str(workspace.root))
    command = evaluate_command(request)
    target.path.mkdir(parents=True, exist_ok=True)
    process = jobs.spawn(command, target.files.process_log,
                         env={"TUNER_LANG": lang, "TUNER_WORKSPACE": str(workspace.root)})
    # Running from now on, so that a reload or a second press sees it before the process has started.
    target.write_status("running", pid=process.pid, phase="start", share=0.0)
    return target, command


def stop(target: EvaluationDir) -> None:
    status = target.status()
    if status is None or status.state != "running":
        raise UserError(f"{target.name} is not running.", ko=f"{target.name}은(는) 진행 중이 아닙니다.")
    target.request_stop()


def all_evaluations(workspace: Workspace) -> list[EvaluationEntry]:
    """The workspace's evaluations and those run right after an export (exports/NAME/evaluation), newest first."""
    found = list_evaluations(workspace.evaluations)
    found += [entry for export in list_exports(workspace.exports)
              if (entry := evaluation_entry(export.export.files.evaluation)) is not None]
    return sorted(found, key=lambda entry: changed(entry.evaluation), reverse=True)


def display_name(workspace: Workspace, folder: Path) -> str:
    """evaluations/NAME as NAME, an export's as exports/NAME/evaluation."""
    return folder.name if folder.parent == workspace.evaluations else workspace.relative(folder)


def running(workspace: Workspace) -> list[EvaluationDir]:
    found = []
    for entry in all_evaluations(workspace):
        try:
            status = entry.evaluation.status()
        except UserError:
            continue
        if status is not None and status.state == "running":
            found.append(entry.evaluation)
    return found
