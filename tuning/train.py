"""Train a LoRA adapter on a prepared dataset, in a process of its own.

    python -m tuning.train --dataset DIR --base-model demo|ID|PATH --out RUN_DIR
        [--max-steps N] [--config FILE] [--resume] [--workspace DIR]

Everything the run produces goes to RUN_DIR (see tuning/runs.py): the UI launches exactly this
command and follows the run through those files. SIGTERM, Ctrl-C or a `RUN_DIR/stop` file stop it
after the current step, with a checkpoint; `--resume` continues from the last checkpoint.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from core import fileio
from core.errors import UserError
from core.i18n import Text, env_lang, text_in
from core.workspace import Workspace
from tuning.config import Hardware, TrainConfig, resolve
from tuning.runs import RunDir, checkpoint_step, train_command, training_lock

CPU_MAX_PARAMETERS = 2e9  # beyond this, training on a CPU would take days: refuse and say so


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    run = RunDir(Path(args.out).expanduser().resolve())
    workspace = Workspace.open(args.workspace)
    try:
        config = _config_from_args(args, run)
        hardware = Hardware.detect(measure_free=True)
        config = preflight(config, hardware)
        with training_lock(workspace.root):
            code = _run(config, run, workspace, hardware, resume=args.resume)
    except UserError as err:  # refused before the run started: its status (if any) stays as it was
        print(f"error: {err.text()}", file=sys.stderr)
        return 2
    if code and retry_after_out_of_memory(run):
        return _relaunch(train_command(config.dataset, config.base_model, run.path, resume=True)
                         + ["--workspace", str(workspace.root)], run)
    return code


def retry_after_out_of_memory(run: RunDir) -> bool:
    """A run that ran out of GPU memory while some layers skipped gradient checkpointing gets one
    more try with every layer checkpointed, by itself: the memory plan is an estimate, and the
    likeliest out-of-memory comes in the first steps, before any checkpoint a user could resume."""
    status = run.status()
    return (status.get("state") == "failed" and bool(status.get("checkpoint_every_layer"))
            and (status.get("unchecked_layers") or 0) > 0)


def _relaunch(command: list[str], run: RunDir) -> int:
    """Runs the retry in a fresh process (this one's GPU memory is not reliably given back) and
    passes stop requests on to it."""
    import gc
    import subprocess

    gc.collect()
    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        sys.modules["torch"].cuda.empty_cache()
    layers = run.status().get("unchecked_layers")
    print(f"The GPU ran out of memory with {layers} layers not checkpointed: trying again with every layer "
          "checkpointed", flush=True)
    run.write_status("running", pid=os.getpid())  # until the retry writes its own
    child = subprocess.Popen(command, cwd=Path(__file__).resolve().parent.parent)
    handlers = {signum: signal.signal(signum, lambda number, frame: child.send_signal(number))
                for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        return child.wait()
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def preflight(config: TrainConfig, hardware: Hardware) -> TrainConfig:
    """The config resolved for this machine, refused (UserError) if it cannot run here; the UI calls
    this too, so a bad start is refused before any process is launched."""
    if not (Path(config.dataset) / "train.jsonl").is_file():
        raise UserError(f"{config.dataset} is not a prepared dataset (no train.jsonl); prepare one in the Dataset tab.",
                        ko=f"{config.dataset}은(는) 준비된 데이터셋이 아닙니다(train.jsonl 없음). "
                           "데이터셋 탭에서 데이터셋을 준비하세요.")
    return resolve(config, hardware)


def _parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m tuning.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", help="prepared dataset folder (train.jsonl, val.jsonl)")
    parser.add_argument("--base-model", help="demo, a Hugging Face id, or a local model folder")
    parser.add_argument("--out", required=True, help="the run directory")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--config", type=Path, default=None, help="a TrainConfig JSON file (the UI writes one)")
    parser.add_argument("--resume", action="store_true", help="continue RUN_DIR from its last checkpoint")
    parser.add_argument("--workspace", default=None, help="workspace for the demo model and the training lock")
    return parser.parse_args(argv)


def _config_from_args(args, run: RunDir) -> TrainConfig:
    from pydantic import ValidationError

    if args.resume:
        source = run.config_path
    else:
        source = args.config
    values = fileio.read_json(source, {}) if source else {}
    if args.resume and not values:
        raise UserError(f"{run.path} has no config.json: there is no run to resume there.",
                        ko=f"{run.path}에 config.json이 없습니다. 이어서 학습할 실행이 없습니다.")
    overrides = {"dataset": args.dataset, "base_model": args.base_model, "max_steps": args.max_steps}
    values.update({key: value for key, value in overrides.items() if value is not None})
    if "dataset" in values:
        values["dataset"] = str(Path(values["dataset"]).expanduser().resolve())
    try:
        return TrainConfig.model_validate(values)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in err.errors())
        raise UserError(f"Invalid training config: {problems}", ko=f"학습 설정이 잘못되었습니다: {problems}") from err


def _run(config: TrainConfig, run: RunDir, workspace: Workspace, hardware: Hardware, resume: bool) -> int:
    run.path.mkdir(parents=True, exist_ok=True)
    _tee_output(run.log_path)
    checkpoint = _checkpoint_to_resume(run) if resume else None
    if not resume:
        run.metrics_path.unlink(missing_ok=True)
    run.stop_path.unlink(missing_ok=True)
    stop = _StopRequest(run)
    # step: where this attempt starts, not where an earlier one ended;
    # unchecked_layers: 0 until this attempt plans its layers, so a failure before that is never retried
    run.write_status("running", pid=os.getpid(), started_at=time.time(), resumed_from=checkpoint and checkpoint.name,
                     step=checkpoint_step(checkpoint) if checkpoint else 0, unchecked_layers=0)
    print(f"run {run.path} (pid {os.getpid()})", flush=True)
    try:
        config.save(run.config_path)
        if config.backend == "unsloth":
            import unsloth  # noqa: F401  (patches transformers, TRL and PEFT: must come before them)
        outcome = train(config, run, workspace, hardware, stop, checkpoint)
    except UserError as err:
        return _fail(run, err)
    except Exception as err:  # noqa: BLE001 - the run must end as "failed" with a reason, whatever broke
        traceback.print_exc()
        return _fail_from(run, err)
    run.write_status(outcome["state"], **{k: v for k, v in outcome.items() if k != "state"})
    print(f"{outcome['state']} at step {outcome['step']}", flush=True)
    return 0


def train(config: TrainConfig, run: RunDir, workspace: Workspace, hardware: Hardware, stop: "_StopRequest",
          checkpoint: Path | None) -> dict:
    """Load the base with LoRA, tokenize (and pack) the dataset, run TRL's SFTTrainer, save the adapter."""
    from tuning.backends import load_for_training, resolve_model_path

    model_path = resolve_model_path(config.base_model, workspace)
    from tuning.memory import ModelShape

    shape = ModelShape.from_folder(model_path)
    _refuse_impossible(shape, hardware, config)
    batch_size, accumulation = choose_batch_size(config, hardware, shape)
    unchecked = unchecked_layers(config, hardware, shape, batch_size, run)
    run.write_status("running", unchecked_layers=unchecked)
    _hold_to_planned_gpu(config, hardware)
    model, tokenizer = load_for_training(config, model_path, unchecked)
    train_set, val_set = _datasets(config, tokenizer)
    if hardware.gpu_free_gib is not None and hardware.gpu_free_gib < hardware.gpu_memory_gib - 1.5:
        print(f"{hardware.gpu_free_gib:.1f} GiB of the GPU's {hardware.gpu_memory_gib:.0f} GiB are free: other "
              "processes hold the rest, and batch and checkpointing are planned for what is free", flush=True)
    checkpointing = f", {unchecked} of {shape.num_hidden_layers} layers not checkpointed" if unchecked else ""
    print(f"backend {config.backend}, 4-bit {config.load_in_4bit}, batch {batch_size} × accumulation "
          f"{accumulation}, {len(train_set)} training rows, packing {config.packing}{checkpointing}", flush=True)
    trainer, collator = _trainer(config, run, model, tokenizer, train_set, val_set, batch_size, accumulation, stop, hardware)
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    step = trainer.state.global_step
    if stop.requested:
        return {"state": "stopped", "step": step, "max_steps": trainer.state.max_steps}
    _save_adapter(model, tokenizer, run, config, model_path)
    return {"state": "completed", "step": step, "max_steps": trainer.state.max_steps}


def _datasets(config: TrainConfig, tokenizer):
    from tuning.dataset import load_split, to_dataset, tokenize_examples

    train_rows, rewindowed = tokenize_examples(load_split(Path(config.dataset), "train"), tokenizer,
                                               config.max_length, config.loss_on, config.prompt_format)
    if not train_rows:
        raise UserError(f"The dataset {config.dataset} has no training rows for this tokenizer and loss setting.",
                        ko=f"데이터셋 {config.dataset}에는 이 토크나이저와 손실 설정으로 학습할 행이 없습니다.")
    if rewindowed:
        print(f"{rewindowed} examples were longer than {config.max_length} tokens in this prompt format and "
              "tokenizer, and were split at turn boundaries", flush=True)
    val_rows, _ = tokenize_examples(load_split(Path(config.dataset), "val"), tokenizer, config.max_length,
                                    config.loss_on, config.prompt_format)
    val_set = to_dataset(val_rows, config.max_length, config.packing) if val_rows else None
    return to_dataset(train_rows, config.max_length, config.packing), val_set


def choose_batch_size(config: TrainConfig, hardware: Hardware, shape) -> tuple[int, int]:
    """(micro-batch, accumulation) keeping batch × accumulation as configured; with auto, the
    largest micro-batch whose estimated memory fits the GPU (on a CPU, the whole batch at once)."""
    if not config.auto_batch_size:
        return config.batch_size, config.gradient_accumulation_steps
    effective = config.effective_batch_size
    if not hardware.cuda:
        return effective, 1
    if shape is None:  # size unknown: keep the configured split
        return config.batch_size, config.gradient_accumulation_steps
    candidates = [size for size in range(effective, 0, -1) if effective % size == 0]
    from tuning.memory import estimate_training_gib

    budget = memory_budget_gib(config, hardware)
    for size in candidates:
        if estimate_training_gib(shape, size, config.max_length, config.load_in_4bit, config.backend) <= budget:
            return size, effective // size
    return 1, effective


def memory_budget_gib(config: TrainConfig, hardware: Hardware) -> float:
    """What a step may take on this GPU (or on the smaller one the config plans for), leaving some
    spare; what other processes hold (a chat model, a desktop) is not there to take."""
    from tuning.memory import CUDA_CONTEXT_GIB, USABLE_SHARE

    memory = hardware.gpu_memory_gib
    if config.plan_for_gpu_gib:
        memory = min(memory, config.plan_for_gpu_gib)
    if hardware.gpu_free_gib is not None:  # measured after this process's context, which the estimate counts
        memory = min(memory, hardware.gpu_free_gib + CUDA_CONTEXT_GIB)
    return memory * USABLE_SHARE


def _hold_to_planned_gpu(config: TrainConfig, hardware: Hardware) -> None:
    """Planning for a smaller card also caps the allocator there, so a run that would not fit that
    card runs out of memory here too, rather than passing on the bigger GPU."""
    from tuning.memory import planned_memory_fraction

    fraction = planned_memory_fraction(config.plan_for_gpu_gib, hardware.gpu_memory_gib)
    if fraction is None:  # no smaller plan, or no GPU
        return
    import torch

    torch.cuda.set_per_process_memory_fraction(fraction)
    print(f"GPU memory held to {fraction * hardware.gpu_memory_gib:.1f} GiB of {hardware.gpu_memory_gib:.0f} "
          f"(planned for a {config.plan_for_gpu_gib:g} GiB card)", flush=True)


def unchecked_layers(config: TrainConfig, hardware: Hardware, shape, batch_size: int, run: RunDir | None = None) -> int:
    """Decoder layers that skip gradient checkpointing: as many as the memory left at this batch holds
    (Unsloth on CUDA only; 0 when checkpointing is off, since then no layer is checkpointed). 0 too
    for a run that ran out of GPU memory before: those layers are the first thing to give back."""
    if not (config.gradient_checkpointing and hardware.cuda and shape is not None):
        return 0
    if run is not None and (run.status() or {}).get("checkpoint_every_layer"):
        print("this run ran out of GPU memory before: every layer is checkpointed now", flush=True)
        return 0
    from tuning.memory import layers_to_leave_unchecked

    return layers_to_leave_unchecked(shape, batch_size, config.max_length, config.load_in_4bit, config.backend,
                                     memory_budget_gib(config, hardware))


def _trainer(config, run, model, tokenizer, train_set, val_set, batch_size, accumulation, stop, hardware):
    from trl import SFTConfig

    from tuning.callbacks import RunFiles, StopOnRequest
    from tuning.collators import make_collator
    from tuning.trainer import ChatSFTTrainer

    collator = make_collator(tokenizer.pad_token_id, config.packing, config.backend)
    eval_steps = config.eval_steps or config.logging_steps
    args = SFTConfig(
        output_dir=str(run.checkpoints), per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size, gradient_accumulation_steps=accumulation,
        warmup_steps=config.warmup_steps, learning_rate=config.learning_rate, lr_scheduler_type=config.lr_scheduler_type,
        weight_decay=config.weight_decay, num_train_epochs=config.num_train_epochs, max_steps=config.max_steps,
        logging_steps=config.logging_steps, save_strategy="steps", save_steps=config.save_steps,
        save_total_limit=config.save_total_limit, eval_strategy="steps" if val_set is not None else "no",
        eval_steps=eval_steps, bf16=config.bf16, fp16=False, use_cpu=not hardware.cuda, optim=config.optim,
        seed=config.seed, data_seed=config.seed, report_to=[], disable_tqdm=True, dataloader_num_workers=0,
        remove_unused_columns=False, dataset_kwargs={"skip_prepare_dataset": True}, max_length=config.max_length,
        packing=False, gradient_checkpointing=config.gradient_checkpointing and config.backend == "hf",
    )
    callbacks = [RunFiles(run, collator), StopOnRequest(stop)]
    trainer = ChatSFTTrainer(model=model, args=args, train_dataset=train_set, eval_dataset=val_set,
                         processing_class=tokenizer, data_collator=collator, callbacks=callbacks)
    return trainer, collator


def _save_adapter(model, tokenizer, run: RunDir, config: TrainConfig, model_path: str) -> None:
    """The final adapter, with the tokenizer and what chat and export need to know about the run."""
    dataset_report = fileio.read_json(Path(config.dataset) / "report.json", {}) or {}
    with fileio.atomic_dir(run.adapter) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        fileio.write_json(tmp / "training.json", {
            "base_model": config.base_model, "base_model_path": model_path,
            "speakers": (dataset_report.get("config") or {}).get("speakers", "blog"),
            "prompt_format": config.prompt_format, "loss_on": config.loss_on, "max_length": config.max_length,
        })


def _refuse_impossible(shape, hardware: Hardware, config: TrainConfig) -> None:
    from tuning.memory import estimate_training_gib

    if not hardware.cuda and shape.parameters > CPU_MAX_PARAMETERS:
        raise UserError(f"{config.base_model} has about {shape.parameters / 1e9:.1f} B parameters: training it needs "
                        "an NVIDIA GPU. On this machine, train the demo model (chat with any GGUF still works).",
                        ko=f"{config.base_model}은(는) 파라미터가 약 {shape.parameters / 1e9:.1f} B개라 학습하려면 "
                           "NVIDIA GPU가 있어야 합니다. 이 머신에서는 데모 모델을 학습하세요"
                           "(GGUF 모델과의 채팅은 그대로 됩니다).")
    if hardware.cuda:
        need = estimate_training_gib(shape, 1, config.max_length, config.load_in_4bit, config.backend)
        if need > hardware.gpu_memory_gib:
            raise UserError(f"{config.base_model} needs about {need:.1f} GiB even at batch 1 and max length "
                            f"{config.max_length}, more than this GPU's {hardware.gpu_memory_gib:.0f} GiB: turn "
                            "4-bit on, or lower the max length.",
                            ko=f"{config.base_model}은(는) 배치 크기 1, 최대 길이 {config.max_length}에서도 약 "
                               f"{need:.1f} GiB가 필요해 이 GPU의 {hardware.gpu_memory_gib:.0f} GiB를 넘습니다. "
                               "4비트를 켜거나 최대 길이를 줄이세요.")


def _out_of_memory(err: Exception) -> bool:
    import torch

    return isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err).lower()


def _explain(err: Exception, unchecked_layers: int = 0) -> str:
    if _out_of_memory(err) and unchecked_layers:
        return Text(f"The GPU ran out of memory with {unchecked_layers} layers not under gradient checkpointing. "
                    "The run tries again by itself with every layer checkpointed, which needs less memory; Resume "
                    "does the same. If that runs out too, lower the batch size (or turn auto batch size on), the max "
                    "length, or the LoRA rank; or turn 4-bit loading on. Checkpoints so far are kept.",
                    f"그래디언트 체크포인팅을 하지 않은 층 {unchecked_layers}개 때문에 GPU 메모리가 부족합니다. "
                    "모든 층에 그래디언트 체크포인팅을 적용해 메모리를 덜 쓰도록 자동으로 다시 시도하며, 이어서 "
                    "학습해도 같습니다. 그래도 부족하면 배치 크기를 줄이거나(또는 자동 배치 크기를 켜거나), 최대 "
                    "길이나 LoRA rank를 줄이거나, 4비트 로딩을 켜세요. 지금까지의 체크포인트는 남아 있습니다.")
    if _out_of_memory(err):
        return Text("The GPU ran out of memory. Lower the batch size (or turn auto batch size on), the max length, "
                    "or the LoRA rank; or turn 4-bit loading on. Checkpoints so far are kept.",
                    "GPU 메모리가 부족합니다. 배치 크기를 줄이거나(또는 자동 배치 크기를 켜거나), 최대 길이나 "
                    "LoRA rank를 줄이거나, 4비트 로딩을 켜세요. 지금까지의 체크포인트는 남아 있습니다.")
    if isinstance(err, OSError) and err.errno == 28:
        return Text("The disk is full. Free some space, then press Resume: checkpoints so far are kept.",
                    "디스크가 가득 찼습니다. 공간을 확보한 뒤 이어서 학습을 누르세요. "
                    "지금까지의 체크포인트는 남아 있습니다.")
    return f"{type(err).__name__}: {err}"


def _fail_from(run: RunDir, err: Exception) -> int:
    """Ends the run as failed by an unexpected error; after running out of GPU memory, any retry or
    resume checkpoints every layer."""
    unchecked = run.status().get("unchecked_layers") or 0
    return _fail(run, _explain(err, unchecked), **({"checkpoint_every_layer": True} if _out_of_memory(err) else {}))


def _fail(run: RunDir, message: str | UserError, **fields) -> int:
    """Ends the run as failed: status.json's `error` in English, `error_ko` where a translation exists."""
    print(f"failed: {text_in(message, env_lang())}", file=sys.stderr, flush=True)
    run.write_status("failed", error=message, **fields)
    return 1


def _checkpoint_to_resume(run: RunDir) -> Path | None:
    state = (run.status() or {}).get("state")
    if state == "completed":
        raise UserError(f"The run {run.name} has already completed; start a new run to train more.",
                        ko=f"실행 {run.name}은(는) 이미 끝났습니다. 더 학습하려면 새 실행을 시작하세요.")
    checkpoint = run.last_checkpoint()
    if checkpoint is None:  # it ended before its first checkpoint: start over with the same settings
        print(f"{run.name} has no checkpoint yet: starting it over from step 0", flush=True)
        run.metrics_path.unlink(missing_ok=True)
        return None
    step = checkpoint_step(checkpoint)
    kept = [row for row in run.metrics() if row.get("step", 0) <= step]
    fileio.write_text(run.metrics_path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in kept))
    return checkpoint


class _StopRequest:
    """Set by SIGTERM/SIGINT or by a `RUN_DIR/stop` file; the trainer stops after the current step."""

    def __init__(self, run: RunDir):
        self.run = run
        self._signalled = False
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame):
        self._signalled = True

    @property
    def requested(self) -> bool:
        return self._signalled or self.run.stop_path.exists()


def _tee_output(log_path: Path) -> None:
    """Everything the process prints also goes to RUN_DIR/train.log."""
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


if __name__ == "__main__":
    sys.exit(main())
