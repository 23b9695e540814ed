"""Starting and stopping exports from the app: each is `python -m inference.export` in a process (and
session) of its own, followed through its folder's status.json, so it outlives page reloads and app
restarts, and the Export tab re-attaches to it."""
from __future__ import annotations

from core import jobs
from core.artifacts import ExportRequest
from core.errors import UserError
from core.exports import ExportDir
from core.runs import RunDir
from core.workspace import FINAL, Workspace
from inference.export import BUSY


def export_command(request: ExportRequest, workspace: Workspace) -> list[str]:
    """The command the Export tab launches (and shows), the same one a user can type."""
    command = jobs.python_module("inference.export", request.run_dir, "--out", request.out_dir,
                                 "--workspace", str(workspace.root), "--quant", *request.quants)
    if request.checkpoint and request.checkpoint != FINAL:
        command += ["--checkpoint", request.checkpoint]
    if not request.lora:
        command.append("--no-lora")
    if request.evaluate:
        command.append("--evaluate")
    return command


def start(workspace: Workspace, run: RunDir, checkpoint: str | None, quants: list[str], lora: bool,
          lang: str, evaluate: bool = False) -> tuple[ExportDir, list[str]]:
    """Refuses a run without that adapter or one already being exported, then launches the export."""
    checkpoint = checkpoint or FINAL
    if checkpoint not in run.adapters():
        raise UserError(f"{run.name} has no adapter {checkpoint} to export (it has: {', '.join(run.adapters()) or 'none'}).",
                        ko=f"{run.name}에는 내보낼 어댑터 {checkpoint}이(가) 없습니다 "
                           f"(있는 것: {', '.join(run.adapters()) or '없음'}).")
    holder = jobs.holder(run.files.export_lock)
    if holder:
        raise UserError(str(BUSY).format(holder=holder), ko=BUSY.ko.format(holder=holder))
    target = ExportDir(workspace.export(workspace.export_name(run.name, checkpoint)).path)
    status = target.status()
    if status is not None and status.state == "running":
        raise UserError(f"{target.name} is being exported already.", ko=f"{target.name}은(는) 이미 내보내는 중입니다.")
    request = ExportRequest(run_dir=str(run.path), checkpoint=None if checkpoint == FINAL else checkpoint,
                            quants=quants, out_dir=str(target.path), lora=lora, evaluate=evaluate)
    command = export_command(request, workspace)
    target.path.mkdir(parents=True, exist_ok=True)
    target.files.status.unlink(missing_ok=True)  # the new job's status, not the last one's
    target.files.stop.unlink(missing_ok=True)
    process = jobs.spawn(command, target.files.process_log,
                         env={"TUNER_LANG": lang, "TUNER_WORKSPACE": str(workspace.root)})
    # Running from now on, so that a reload or a second press sees it before the process has started.
    target.write_status("running", pid=process.pid, run=run.name, checkpoint=checkpoint, phase="start", share=0.0)
    return target, command


def stop(target: ExportDir) -> None:
    status = target.status()
    if status is None or status.state != "running":
        raise UserError(f"{target.name} is not being exported.", ko=f"{target.name}은(는) 내보내는 중이 아닙니다.")
    target.request_stop()


def running(workspace: Workspace) -> list[ExportDir]:
    """Exports whose process is running now (for the Export tab to re-attach after a reload)."""
    found = []
    for status_path in workspace.exports.glob("*/status.json"):
        target = ExportDir(status_path.parent)
        try:
            status = target.status()
        except UserError:
            continue
        if status is not None and status.state == "running":
            found.append(target)
    return found


def attached(workspace: Workspace) -> tuple[str, str] | None:
    """(run, checkpoint) of an export running now, for the Export tab to show after a reload."""
    for target in running(workspace):
        status = target.status()
        if status is not None and status.run:
            return status.run, status.checkpoint
    return None
