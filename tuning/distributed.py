"""One training across several processes (one per GPU; gloo on a CPU machine), launched by torchrun.

`python -m tuning.train … --processes N` is the run's leader: it holds the workspace's training lock
and the run's status, and starts `torchrun --nproc_per_node N -m tuning.train …` as its child. Each
process torchrun starts is a worker: PyTorch's DDP under TRL's SFTTrainer (through accelerate) keeps
them in step; only the first (rank 0) writes the run's files. A stop is agreed on at every step end,
so every process stops at the same step, and the checkpoint is one.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from core import artifacts, jobs
from core.artifacts import RunStatus
from core.i18n import Text
from core.runs import RunDir

__all__ = ["is_worker", "is_main", "rank", "world_size", "local_rank", "torchrun_command", "any_process",
           "sum_over_processes", "failure_reason"]


def is_worker() -> bool:
    """This process was started by torchrun (its environment names a rank)."""
    return "TORCHELASTIC_RUN_ID" in os.environ and "RANK" in os.environ


def rank() -> int:
    return int(os.environ.get("RANK", 0)) if is_worker() else 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0)) if is_worker() else 0


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", 1)) if is_worker() else 1


def is_main() -> bool:
    """The process that writes the run's files: the only one, or rank 0 of several."""
    return rank() == 0


def torchrun_command(processes: int, worker_args: list[str]) -> list[str]:
    """torchrun from this interpreter's environment (`python -m torch.distributed.run` where the
    script is missing), one machine, no restarts: a failed process fails the run."""
    script = Path(sys.executable).parent / "torchrun"
    launcher = [str(script)] if script.is_file() else [sys.executable, "-m", "torch.distributed.run"]
    return launcher + ["--standalone", "--nproc_per_node", str(processes), "--max_restarts", "0",
                       "-m", "tuning.train", *worker_args]


def worker_command(processes: int, run_dir: Path, config_file: Path, workspace_root: Path, resume: bool) -> list[str]:
    """What the leader of a run starts: torchrun, and in each process this module on the run's config."""
    args = ["--out", str(run_dir), "--config", str(config_file), "--workspace", str(workspace_root)]
    return torchrun_command(processes, args + (["--resume"] if resume else []))


def shown_command(command: list[str]) -> str:
    """The command as a user would type it (torchrun by its name)."""
    words = [Path(word).name if index == 0 and Path(word).name == "torchrun" else word
             for index, word in enumerate(command)]
    return shlex.join(words)


def _reduce(value: float, op) -> float:
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    device = f"cuda:{torch.cuda.current_device()}" if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=op)
    return tensor.item()


def any_process(flag: bool) -> bool:
    """True on every process when it is true on any: called by all of them at the same point."""
    import torch.distributed as dist

    return bool(_reduce(1.0 if flag else 0.0, dist.ReduceOp.MAX)) if dist.is_available() else flag


def sum_over_processes(value: float) -> float:
    import torch.distributed as dist

    return _reduce(value, dist.ReduceOp.SUM) if dist.is_available() else value


def cpu_threads(processes: int) -> str:
    """Each CPU process its share of the cores (torchrun's default is one thread each)."""
    return str(max(1, (os.cpu_count() or 1) // processes))


def visible_gpus(indices: list[int]) -> str:
    """CUDA_VISIBLE_DEVICES for these GPUs, numbered as this process sees them (through a
    CUDA_VISIBLE_DEVICES it was given, if any: an empty one stays empty)."""
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        inherited = [name.strip() for name in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if name.strip()]
        return ",".join(inherited[index] for index in indices if index < len(inherited))
    return ",".join(str(index) for index in indices)


def take_gpus(config) -> None:
    """Before CUDA starts in this process: a single training process trains on the GPU chosen (or
    the first: the Trainer would spread over them all, which TRL refuses); one of several, on its own."""
    if is_worker():
        import torch

        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank())
    elif config.processes == 1:
        os.environ["CUDA_VISIBLE_DEVICES"] = visible_gpus(config.gpus or [0])


def agree_on_memory(hardware):
    """The hardware as every process plans with it: the least free GPU memory of them all (the
    process group started here, as the Trainer would start it)."""
    import torch.distributed as dist

    if not hardware.cuda or hardware.gpu_free_gib is None:
        return hardware
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl")
    least = -_reduce(-hardware.gpu_free_gib, dist.ReduceOp.MAX)
    return hardware.model_copy(update={"gpu_free_gib": least})


def end_with_parent():
    """A function for Popen's preexec_fn: the child gets SIGTERM when this process dies (Linux's
    PR_SET_PDEATHSIG), looked up before the fork."""
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def in_child():
        prctl(1, signal.SIGTERM)
        if os.getppid() != parent:  # it died between the fork and here
            os.kill(os.getpid(), signal.SIGTERM)

    return in_child


_ROOT_CAUSE = re.compile(r"Root Cause.*?rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)", re.S)


@dataclass(frozen=True)
class Failure:
    text: Text
    rank: int | None        # the process torchrun saw fail first, when it said

    def with_error(self, status) -> Text:
        """The message with the failed process's own error."""
        number = (self.rank or 0) + 1
        return Text(f"Training process {number} failed: {status.error}",
                    f"{number}번 학습 프로세스가 실패했습니다: {status.error_ko or status.error}")


def failure_reason(torchrun_output: str, processes: int, exit_code: int) -> Failure:
    """Why torchrun ended the run, from its own summary of the first process that failed."""
    found = _ROOT_CAUSE.search(torchrun_output)
    if not found:
        return Failure(Text(f"torchrun ended with exit code {exit_code} before the run finished; the training "
                            "processes were stopped. See the log.",
                            f"학습이 끝나기 전에 torchrun이 종료 코드 {exit_code}로 끝났고 학습 프로세스들은 "
                            "중지되었습니다. 로그를 보세요."), None)
    failed_rank, code = int(found.group(1)), int(found.group(2))
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else f"signal {-code}"
        how, how_ko = f"was killed ({name})", f"강제로 끝났고({name})"
    else:
        how, how_ko = f"failed (exit code {code})", f"실패했고(종료 코드 {code})"
    return Failure(Text(f"Training process {failed_rank + 1} of {processes} {how}; torchrun stopped the others. "
                        "Checkpoints so far are kept: press Resume to continue from the last one.",
                        f"학습 프로세스 {processes}개 중 {failed_rank + 1}번이 {how_ko} torchrun이 나머지를 "
                        "중지했습니다. 지금까지의 체크포인트는 남아 있으니 이어서 학습을 눌러 마지막 체크포인트부터 "
                        "계속하세요."), failed_rank)


def _rank_error_path(run_dir: Path, rank_number: int) -> Path:
    return Path(run_dir) / f"error-rank{rank_number}.json"


def rank_error(run_dir: Path, rank_number: int) -> RunStatus | None:
    """The error a process other than the first wrote when it failed."""
    return artifacts.read(_rank_error_path(run_dir, rank_number), RunStatus)


def forget_rank_errors(run_dir: Path) -> None:
    for path in Path(run_dir).glob("error-rank*.json"):
        path.unlink(missing_ok=True)


class ReadOnlyRun(RunDir):
    """The run as a training process other than the first sees it: it never writes the run's status
    or metrics (the first process does); its failure goes to a file of its own for the leader."""

    def write_status(self, state: str, **fields) -> RunStatus | None:
        if state == "failed":
            return jobs.write_status(_rank_error_path(self.path, rank()), RunStatus, state, **fields)
        return self.status()

    def append_metrics(self, row) -> None:
        return None
