"""Train a LoRA adapter on a prepared dataset, in a process of its own.

    python -m tuning.train --dataset DIR --base-model demo|ID|PATH --out RUN_DIR
        [--max-steps N] [--config FILE] [--resume] [--workspace DIR] [--processes N] [--gpus 0,1]

Everything the run produces goes to RUN_DIR (see core/workspace.py, RunPaths): the UI launches
exactly this command and follows the run through those files. SIGTERM, Ctrl-C or a `RUN_DIR/stop`
file stop it after the current step, with a checkpoint; `--resume` continues from the last checkpoint.
With `--processes N` (N > 1) this process leads N training processes that torchrun starts, one per
GPU (tuning/distributed.py); torchrun starts this same module in each of them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.artifacts import TrainConfig, UnreadableFile
from core.errors import UserError
from core.i18n import Text
from core.runs import RunDir
from core.workspace import Workspace
from tuning import distributed
from tuning.config import Hardware, preflight


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        run = RunDir(_run_folder(args.out))
        workspace = Workspace.open(args.workspace)
        config = _config_from_args(args, run, workspace)
        # a leader does not train: it leaves the GPUs (and a CUDA context's memory) to its processes
        leading = config.processes > 1 and not distributed.is_worker()
        distributed.take_gpus(config)
        hardware = Hardware.detect(measure_free=not leading, device=distributed.local_rank())
        preflight(config, hardware, workspace)  # refused here, before the run starts, if it cannot run
        from tuning.process import run_training

        return run_training(config, run, workspace, hardware, resume=args.resume)
    except UserError as err:  # refused before the run started: its status (if any) stays as it was
        print(f"error: {err.text()}", file=sys.stderr)
        return 2


def _parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m tuning.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", help="prepared dataset folder (train.jsonl, val.jsonl)")
    parser.add_argument("--base-model", help="demo, a Hugging Face id, or a local model folder")
    parser.add_argument("--out", required=True, help="the run directory")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--config", type=Path, default=None,
                        help="a TrainConfig JSON file (the UI writes one; tuning/recipes/*.json are such files)")
    parser.add_argument("--resume", action="store_true", help="continue RUN_DIR from its last checkpoint")
    parser.add_argument("--workspace", default=None, help="workspace for the demo model and the training lock")
    parser.add_argument("--processes", type=int, default=None,
                        help="training processes, one per GPU (torchrun, DDP); default 1, or the config's")
    parser.add_argument("--gpus", default=None, help="the GPUs to train on, one process each: 0,1 (CUDA indices)")
    return parser.parse_args(argv)


def _gpu_list(gpus: str | None) -> list[int] | None:
    if gpus is None:
        return None
    try:
        return [int(index) for index in gpus.split(",") if index.strip()]
    except ValueError:
        raise UserError(f"--gpus {gpus}: give CUDA device numbers separated by commas, such as 0,1.",
                        ko=f"--gpus {gpus}: 0,1처럼 CUDA 장치 번호를 쉼표로 나눠 적으세요.") from None


def _run_folder(out: str) -> Path:
    path = Path(out).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {out} is a file: a run directory must be a folder. Choose a new folder name.",
                        ko=f"--out {out}은(는) 파일입니다. 실행 폴더는 폴더여야 합니다. 새 폴더 이름을 고르세요.")
    return path


def _config_from_args(args, run: RunDir, workspace: Workspace) -> TrainConfig:
    """The run's saved config (--resume), else the --config file, else the defaults; then the options.
    A resumed run's dataset is found again if its workspace has moved since."""
    overrides = {key: value for key, value in
                 (("dataset", args.dataset), ("base_model", args.base_model), ("max_steps", args.max_steps),
                  ("processes", args.processes), ("gpus", _gpu_list(args.gpus)))
                 if value is not None}
    if overrides.get("dataset"):
        overrides["dataset"] = str(Path(overrides["dataset"]).expanduser().resolve())
    source = run.files.config if args.resume else args.config
    if source is None and not args.dataset:
        raise UserError("Give the dataset to train on: --dataset DIR (a prepared dataset), or a --config file "
                        "that names one.",
                        ko="학습할 데이터셋을 지정하세요: --dataset DIR(준비된 데이터셋) 또는 데이터셋이 들어 있는 "
                           "--config 파일.")
    if args.resume and not source.is_file():
        raise UserError(f"{run.path} has no config.json: there is no run to resume there.",
                        ko=f"{run.path}에 config.json이 없습니다. 이어서 학습할 실행이 없습니다.")
    try:
        if source is None:
            return TrainConfig.from_dict(overrides, "the command line")
        config = TrainConfig.from_file(source, **overrides)
        if args.resume:
            config = config.model_copy(update={"dataset": str(workspace.relocate(config.dataset))})
        return config
    except UnreadableFile as err:
        raise UserError(Text(f"Invalid training config {err.path}: {err.reason}",
                             f"학습 설정 {err.path}이(가) 잘못되었습니다: {err.reason}")) from None


if __name__ == "__main__":
    sys.exit(main())
