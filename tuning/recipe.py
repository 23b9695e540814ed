"""The LoRA recipe, top to bottom: get the base model (downloading it if needed) and check its family
and its GGUF export, plan for the machine, load the base with LoRA, tokenize (and pack) the dataset,
train with TRL's SFTTrainer, save the adapter with how it was trained. `tuning.process` runs it in the
training process; the CLI is `python -m tuning.train`."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from core import artifacts, fileio
from core.artifacts import AdapterInfo, DatasetReport, DownloadProgress, PromptContract, TrainConfig
from core.errors import UserError
from core.jobs import StopRequest
from core.runs import RunDir
from core.workspace import DatasetPaths, Workspace
from data.chat_format import contract_for
from models import gguf
from models.families import family_of
from models.resolve import resolve_model_path
from models.shape import ModelShape
from tuning import distributed
from tuning.config import UNSLOTH_DDP_UNTRIED, Hardware, resolve
from tuning.plan import TrainingPlan, hold_to_plan, plan_training


@dataclass(frozen=True)
class Outcome:
    state: str            # completed or stopped
    step: int
    max_steps: int


def train(config: TrainConfig, run: RunDir, workspace: Workspace, hardware: Hardware, stop: StopRequest,
          checkpoint: Path | None) -> Outcome:
    model_path, config = setup_model(config, run, workspace, hardware)
    contract = record_contract(config, run, _tokenizer(model_path))  # a chat template it lacks is refused here
    plan = setup_plan(config, run, hardware, model_path)
    model, tokenizer = load_model(config, model_path, plan)
    run.write_status("running", phase="train")
    train_set, val_set = load_data(config, tokenizer)
    print(f"backend {config.backend}, 4-bit {config.load_in_4bit}, batch {plan.batch_size} × accumulation "
          f"{plan.accumulation}" + (f" × {config.processes} processes" if config.processes > 1 else "")
          + f", {len(train_set)} training rows, packing {config.packing}"
          + (f", {plan.unchecked_layers} layers not checkpointed" if plan.unchecked_layers else ""), flush=True)
    trainer = build_trainer(config, run, model, tokenizer, train_set, val_set, plan, stop, hardware)
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    outcome = Outcome("stopped" if stop.requested else "completed", trainer.state.global_step, trainer.state.max_steps)
    if outcome.state == "completed" and distributed.is_main():
        save_adapter(model, tokenizer, run, config, model_path, contract)
    return outcome


def setup_model(config: TrainConfig, run: RunDir, workspace: Workspace, hardware: Hardware) -> tuple[str, TrainConfig]:
    """The base model's folder (downloaded first if needed, its progress in the run's files), the
    config resolved for its family, and the proof, before any weights load, that it will export to
    GGUF and chat as it was trained."""
    run.write_status("running", phase="download")
    model_path = resolve_model_path(config.base_model, workspace, _download_reporter(run, config.base_model))
    run.write_status("running", phase="prepare")
    family = family_of(model_path)
    config = resolve(config, hardware, family)
    if distributed.is_main():
        artifacts.write(run.files.config, config)
    try:
        problem = gguf.checked_conversion(Path(model_path), workspace.models / "gguf-checks.json")
    except gguf.ToolsMissing as missing:  # scripts/setup.sh installs them; a bare GPU box may lack them
        print(f"GGUF export not checked: {missing}", flush=True)
        problem = None
    if problem:
        raise UserError(f"{config.base_model} could be trained, but not exported to GGUF to chat with: {problem}.",
                        ko=f"{config.base_model}은(는) 학습은 되지만 대화용 GGUF로 내보낼 수 없습니다: {problem}.")
    print(f"{family.name} model, LoRA on {', '.join(config.target_modules)}, backend {config.backend}", flush=True)
    if config.processes > 1 and hardware.cuda and hardware.unsloth_importable and config.backend == "hf":
        print(UNSLOTH_DDP_UNTRIED, flush=True)
    return model_path, config


def _download_reporter(run: RunDir, model_id: str):
    progress = DownloadProgress(model=model_id)

    def report(done: int, total: int) -> None:
        nonlocal progress
        progress = progress.model_copy(update={"bytes_done": done, "bytes_total": total, "updated_at": time.time(),
                                                 "done": bool(total) and done >= total})
        artifacts.write(run.files.download, progress)

    return report


def _tokenizer(model_path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path)


def setup_plan(config: TrainConfig, run: RunDir, hardware: Hardware, model_path: str) -> TrainingPlan:
    """Batch and checkpointing for the memory that is free; recorded in the status before anything
    loads, so that an out-of-memory can be told apart from one with every layer checkpointed."""
    status = run.status()
    every_layer = bool(status and status.checkpoint_every_layer)
    if every_layer:
        print("this run ran out of GPU memory before: every layer is checkpointed now", flush=True)
    plan = plan_training(config, hardware, ModelShape.from_folder(model_path), every_layer)
    run.write_status("running", unchecked_layers=plan.unchecked_layers)
    hold_to_plan(plan, config, hardware)
    if hardware.gpu_free_gib is not None and hardware.gpu_free_gib < hardware.gpu_memory_gib - 1.5:
        print(f"{hardware.gpu_free_gib:.1f} GiB of the GPU's {hardware.gpu_memory_gib:.0f} GiB are free: other "
              "processes hold the rest, and batch and checkpointing are planned for what is free", flush=True)
    return plan


def load_model(config: TrainConfig, model_path: str, plan: TrainingPlan):
    from tuning.backends import load_for_training

    return load_for_training(config, model_path, plan.unchecked_layers)


def record_contract(config: TrainConfig, run: RunDir, tokenizer) -> PromptContract:
    """How this run's adapters are to be prompted, written before the first checkpoint: chat and
    export of any checkpoint read it from the run."""
    report = artifacts.read(DatasetPaths(Path(config.dataset)).report, DatasetReport)
    contract = contract_for(tokenizer, config.prompt_format, report.speakers if report else "blog")
    if distributed.is_main():
        artifacts.write(run.files.prompt, contract)
    return contract


def load_data(config: TrainConfig, tokenizer):
    from tuning.dataset import load_split, to_dataset, tokenize_examples

    def rows(split: str) -> tuple[list[dict], int]:
        return tokenize_examples(load_split(Path(config.dataset), split), tokenizer, config.max_length,
                                 config.loss_on, config.prompt_format)

    train_rows, rewindowed = rows("train")
    if not train_rows:
        raise UserError(f"The dataset {config.dataset} has no training rows for this tokenizer and loss setting.",
                        ko=f"데이터셋 {config.dataset}에는 이 토크나이저와 손실 설정으로 학습할 행이 없습니다.")
    if rewindowed:
        print(f"{rewindowed} examples were longer than {config.max_length} tokens in this prompt format and "
              "tokenizer, and were split at turn boundaries", flush=True)
    val_rows, _ = rows("val")
    val_set = to_dataset(val_rows, config.max_length, config.packing) if val_rows else None
    return to_dataset(train_rows, config.max_length, config.packing), val_set


def build_trainer(config: TrainConfig, run: RunDir, model, tokenizer, train_set, val_set, plan: TrainingPlan,
                  stop: StopRequest, hardware: Hardware):
    from trl import SFTConfig

    from tuning.callbacks import RunFiles, StopOnRequest
    from tuning.collators import make_collator
    from tuning.trainer import ChatSFTTrainer

    collator = make_collator(tokenizer.pad_token_id, config.packing, config.backend)
    args = SFTConfig(
        output_dir=str(run.files.checkpoints), per_device_train_batch_size=plan.batch_size,
        per_device_eval_batch_size=plan.batch_size, gradient_accumulation_steps=plan.accumulation,
        warmup_steps=config.warmup_steps, learning_rate=config.learning_rate, lr_scheduler_type=config.lr_scheduler_type,
        weight_decay=config.weight_decay, num_train_epochs=config.num_train_epochs, max_steps=config.max_steps,
        logging_steps=config.logging_steps, save_strategy="steps", save_steps=config.save_steps,
        save_total_limit=config.save_total_limit, eval_strategy="steps" if val_set is not None else "no",
        eval_steps=config.eval_steps or config.logging_steps, bf16=config.bf16, fp16=False, use_cpu=not hardware.cuda,
        optim=config.optim, seed=config.seed, data_seed=config.seed, report_to=[], disable_tqdm=True,
        dataloader_num_workers=0, remove_unused_columns=False, dataset_kwargs={"skip_prepare_dataset": True},
        max_length=config.max_length, packing=False,
        gradient_checkpointing=config.gradient_checkpointing and config.backend == "hf",
        # DDP: every LoRA weight gets a gradient each step; looking for unused ones makes DDP mark the
        # weights inside checkpointed layers unused at forward time, and their gradients go wrong
        ddp_find_unused_parameters=False,
    )
    return ChatSFTTrainer(model=model, args=args, train_dataset=train_set, eval_dataset=val_set,
                          processing_class=tokenizer, data_collator=collator,
                          callbacks=[RunFiles(run, collator), StopOnRequest(stop)])


def save_adapter(model, tokenizer, run: RunDir, config: TrainConfig, model_path: str,
                 contract: PromptContract) -> None:
    """The final adapter, with the tokenizer and the prompt contract chat and export will keep."""
    info = AdapterInfo(base_model=config.base_model, base_model_path=model_path, loss_on=config.loss_on,
                       max_length=config.max_length, prompt=contract)
    with fileio.atomic_dir(run.files.adapter, replaces=lambda folder: True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        artifacts.write(run.files.adapter_info(tmp), info)
