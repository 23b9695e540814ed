"""The training process around the recipe: one training per workspace (a lock), the run's status
from start to end, its output teed to train.log, stop requests, resuming from a checkpoint, every
failure ended as `failed` with a reason a user can act on, and one retry by itself after running out
of GPU memory with layers left unchecked."""
from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from core import artifacts, fileio
from core.artifacts import TrainConfig
from core.errors import UserError
from core.i18n import Text, env_lang, text_in
from core.jobs import ROOT, StopRequest, exclusive, tee_output
from core.runs import RunDir, checkpoint_step
from core.workspace import Workspace
from tuning import distributed
from tuning.config import Hardware, resolve
from tuning.launcher import BUSY, train_command

__all__ = ["run_training", "retry_after_out_of_memory", "relaunch", "explain", "fail", "fail_from"]


def run_training(config: TrainConfig, run: RunDir, workspace: Workspace, hardware: Hardware, resume: bool) -> int:
    """The whole process: 0 when the run completed or stopped, 1 when it failed (its status says why).
    With several processes this one leads them (`_lead`); in each of them, `_work`."""
    if distributed.is_worker():
        return _work(config, run, workspace, hardware, resume)
    with exclusive(workspace.training_lock, BUSY):
        code = (_lead if config.processes > 1 else _attempt)(config, run, workspace, hardware, resume)
    if code and retry_after_out_of_memory(run):
        return relaunch(train_command(config.dataset, config.base_model, run.path, resume=True)
                        + ["--workspace", str(workspace.root)], run)
    return code


def _begin(config: TrainConfig, run: RunDir, resume: bool) -> Path | None:
    """The run's files for a new attempt, owned by this process: the checkpoint it resumes from, if any."""
    run.path.mkdir(parents=True, exist_ok=True)
    tee_output(run.files.log)
    checkpoint = _checkpoint_to_resume(run) if resume else None
    if not resume:
        run.files.metrics.unlink(missing_ok=True)
    run.files.stop.unlink(missing_ok=True)
    # step: where this attempt starts, not where an earlier one ended;
    # unchecked_layers: 0 until this attempt plans its layers, so a failure before that is never retried
    run.write_status("running", pid=os.getpid(), started_at=time.time(), resumed_from=checkpoint and checkpoint.name,
                     step=checkpoint_step(checkpoint) if checkpoint else 0, unchecked_layers=0)
    print(f"run {run.path} (pid {os.getpid()})", flush=True)
    artifacts.write(run.files.config, config)
    return checkpoint


def _attempt(config: TrainConfig, run: RunDir, workspace: Workspace, hardware: Hardware, resume: bool) -> int:
    checkpoint = _begin(config, run, resume)
    return _train(config, run, workspace, hardware, StopRequest(run.files.stop), checkpoint)


def _train(config: TrainConfig, run: RunDir, workspace: Workspace, hardware: Hardware, stop: StopRequest,
           checkpoint: Path | None) -> int:
    try:
        if resolve(config, hardware).backend == "unsloth":
            import unsloth  # noqa: F401  (patches transformers, TRL and PEFT: must come before them)
        from tuning.recipe import train

        outcome = train(config, run, workspace, hardware, stop, checkpoint)
    except UserError as err:
        return fail(run, err)
    except Exception as err:  # noqa: BLE001 - the run must end as "failed" with a reason, whatever broke
        traceback.print_exc()
        return fail_from(run, err)
    run.write_status(outcome.state, step=outcome.step, max_steps=outcome.max_steps)
    print(f"{outcome.state} at step {outcome.step}", flush=True)
    return 0


def _lead(config: TrainConfig, run: RunDir, workspace: Workspace, hardware: Hardware, resume: bool) -> int:
    """Starts torchrun with one training process per GPU and waits for it. A stop request (the stop
    file, SIGTERM, Ctrl-C) becomes the stop file, which the processes agree on at a step's end (a
    second one ends them at once); if one of them ends, torchrun ends the others, and the run fails
    with which one and why."""
    checkpoint = _begin(config, run, resume)
    try:  # the base model downloaded and checked once, here, before its processes start
        from tuning.recipe import setup_model

        setup_model(config, run, workspace, hardware)
    except UserError as err:
        return fail(run, err)
    except Exception as err:  # noqa: BLE001 - as in _train: failed, with a reason
        traceback.print_exc()
        return fail_from(run, err)
    command = distributed.worker_command(config.processes, run.path, run.files.config, workspace.root,
                                         resume=checkpoint is not None)
    print(f"{config.processes} training processes: {distributed.shown_command(command)}", flush=True)
    env = {**os.environ, "TUNER_LEADER_PID": str(os.getpid()),
           "CUDA_VISIBLE_DEVICES": distributed.visible_gpus(config.gpus or list(range(config.processes)))}
    if not hardware.cuda:
        env.setdefault("OMP_NUM_THREADS", distributed.cpu_threads(config.processes))
    distributed.forget_rank_errors(run.path)
    # torchrun in a session of its own, so that Ctrl-C reaches only this process, which asks for a stop;
    # and sent SIGTERM by the kernel if this process is killed
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True, preexec_fn=distributed.end_with_parent(), text=True,
                             errors="replace")
    asked = []

    def on_signal(number, frame):
        if asked:  # asked twice: end them now (a process stuck in a collective never reaches a step's end)
            os.killpg(child.pid, signal.SIGTERM)
        asked.append(number)
        run.files.stop.touch()

    handlers = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
    output = []
    try:
        for line in child.stdout:
            print(line, end="", flush=True)
            output = (output + [line])[-200:]
        code = child.wait()
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return _after_torchrun(run, config.processes, code, "".join(output))


def _after_torchrun(run: RunDir, processes: int, code: int, output: str) -> int:
    """The run's ending once torchrun has ended: as rank 0 wrote it, or failed with the process that
    failed first and its own error (its out-of-memory explanation and retry included)."""
    status = run.status()
    if code == 0 and status is not None and status.state in ("completed", "stopped"):
        return 0
    failure = distributed.failure_reason(output, processes, code)
    if failure.rank == 0 and status is not None and status.state == "failed":
        return 1  # rank 0 wrote its own error
    own = distributed.rank_error(run.path, failure.rank) if failure.rank is not None else None
    if own is not None:
        fields = {"checkpoint_every_layer": True} if own.checkpoint_every_layer else {}
        return fail(run, failure.with_error(own), **fields)
    return fail(run, failure.text)


def _work(config: TrainConfig, run: RunDir, workspace: Workspace, hardware: Hardware, resume: bool) -> int:
    """One of several training processes. Its leader owns the run's files; the first process (rank 0)
    writes the run's progress, checkpoints and adapter, the others only train (and write their own
    error, if any, for the leader). torchrun's SIGTERM ends it at once: a stop comes by the stop file."""
    checkpoint = run.last_checkpoint() if resume else None
    if not distributed.is_main():  # the first process reports; errors still reach stderr
        sys.stdout = open(os.devnull, "w", encoding="utf-8")
    quiet = run if distributed.is_main() else distributed.ReadOnlyRun(run.path)
    # every process plans for the GPU with the least free memory, so all take the same batch
    hardware = distributed.agree_on_memory(hardware)
    stop = StopRequest(run.files.stop, leader=_leader_pid(), signals=False)
    return _train(config, quiet, workspace, hardware, stop, checkpoint)


def _leader_pid() -> int | None:
    value = os.environ.get("TUNER_LEADER_PID")
    return int(value) if value and value.isdigit() else None


def retry_after_out_of_memory(run: RunDir) -> bool:
    """A run that ran out of GPU memory while some layers skipped gradient checkpointing gets one
    more try with every layer checkpointed, by itself: the memory plan is an estimate, and the
    likeliest out-of-memory comes in the first steps, before any checkpoint a user could resume."""
    status = run.status()
    return bool(status and status.state == "failed" and status.checkpoint_every_layer and status.unchecked_layers > 0)


def relaunch(command: list[str], run: RunDir) -> int:
    """Runs the retry in a fresh process (this one's GPU memory is not reliably given back) and
    passes stop requests on to it."""
    gc.collect()
    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        sys.modules["torch"].cuda.empty_cache()
    layers = run.status().unchecked_layers
    print(f"The GPU ran out of memory with {layers} layers not checkpointed: trying again with every layer "
          "checkpointed", flush=True)
    run.write_status("running", pid=os.getpid())  # until the retry writes its own
    child = subprocess.Popen(command, cwd=ROOT)
    handlers = {signum: signal.signal(signum, lambda number, frame: child.send_signal(number))
                for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = child.wait()
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    status = run.status()
    if status is not None and status.state == "running" and status.pid == os.getpid():  # refused before it began
        fail(run, Text("The retry with every layer checkpointed could not start (see the log); press Resume to "
                       "try again.", "모든 층에 체크포인팅을 적용한 재시도를 시작하지 못했습니다(로그를 보세요). "
                                     "이어서 학습을 눌러 다시 시도하세요."))
    return code


def _checkpoint_to_resume(run: RunDir) -> Path | None:
    status = run.status()
    if status and status.state == "completed":
        raise UserError(f"The run {run.name} has already completed; start a new run to train more.",
                        ko=f"실행 {run.name}은(는) 이미 끝났습니다. 더 학습하려면 새 실행을 시작하세요.")
    checkpoint = run.last_checkpoint()
    if checkpoint is None:  # it ended before its first checkpoint: start over with the same settings
        print(f"{run.name} has no checkpoint yet: starting it over from step 0", flush=True)
        run.files.metrics.unlink(missing_ok=True)
        return None
    step = checkpoint_step(checkpoint)
    kept = [row for row in run.metrics() if row.step <= step]
    fileio.write_jsonl(run.files.metrics, (row.model_dump(mode="json", exclude_none=True) for row in kept))
    return checkpoint


def out_of_memory(err: Exception) -> bool:
    import torch

    return isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err).lower()


def explain(err: Exception, unchecked_layers: int = 0) -> str:
    """What a user reads when the run failed: what happened and what to change."""
    if out_of_memory(err) and unchecked_layers:
        return Text(f"The GPU ran out of memory with {unchecked_layers} layers not under gradient checkpointing. "
                    "The run tries again by itself with every layer checkpointed, which needs less memory; Resume "
                    "does the same. If that runs out too, lower the batch size (or turn auto batch size on), the max "
                    "length, or the LoRA rank; or turn 4-bit loading on. Checkpoints so far are kept.",
                    f"그래디언트 체크포인팅을 하지 않은 층 {unchecked_layers}개 때문에 GPU 메모리가 부족합니다. "
                    "모든 층에 그래디언트 체크포인팅을 적용해 메모리를 덜 쓰도록 자동으로 다시 시도하며, 이어서 "
                    "학습해도 같습니다. 그래도 부족하면 배치 크기를 줄이거나(또는 자동 배치 크기를 켜거나), 최대 "
                    "길이나 LoRA rank를 줄이거나, 4비트 로딩을 켜세요. 지금까지의 체크포인트는 남아 있습니다.")
    if out_of_memory(err):
        return Text("The GPU ran out of memory. Lower the batch size (or turn auto batch size on), the max length, "
                    "or the LoRA rank; or turn 4-bit loading on. Checkpoints so far are kept.",
                    "GPU 메모리가 부족합니다. 배치 크기를 줄이거나(또는 자동 배치 크기를 켜거나), 최대 길이나 "
                    "LoRA rank를 줄이거나, 4비트 로딩을 켜세요. 지금까지의 체크포인트는 남아 있습니다.")
    if isinstance(err, OSError) and err.errno == 28:
        return Text("The disk is full. Free some space, then press Resume: checkpoints so far are kept.",
                    "디스크가 가득 찼습니다. 공간을 확보한 뒤 이어서 학습을 누르세요. "
                    "지금까지의 체크포인트는 남아 있습니다.")
    return f"{type(err).__name__}: {err}"


def fail_from(run: RunDir, err: Exception) -> int:
    """Ends the run as failed by an unexpected error; after running out of GPU memory, any retry or
    resume checkpoints every layer."""
    status = run.status()
    unchecked = status.unchecked_layers if status else 0
    return fail(run, explain(err, unchecked), **({"checkpoint_every_layer": True} if out_of_memory(err) else {}))


def fail(run: RunDir, message: str | UserError, **fields) -> int:
    """Ends the run as failed: status.json's `error` in English, `error_ko` where a translation exists."""
    print(f"failed: {text_in(message, env_lang())}", file=sys.stderr, flush=True)
    run.write_status("failed", error=message, **fields)
    return 1
