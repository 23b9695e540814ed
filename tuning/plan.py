"""Planning a run for the machine, before any weights load: whether it can run here at all, the
micro-batch and accumulation, how many layers skip gradient checkpointing, and the memory cap when
the run plans for a smaller GPU. The Train tab asks the same functions for its advice."""
from __future__ import annotations

from dataclasses import dataclass

from core.artifacts import TrainConfig
from core.errors import UserError
from tuning.config import Hardware
from tuning.memory import (CUDA_CONTEXT_GIB, USABLE_SHARE, ModelShape, estimate_training_gib,
                           layers_to_leave_unchecked, planned_memory_fraction)

CPU_MAX_PARAMETERS = 2e9  # beyond this, training on a CPU would take days: refuse and say so


@dataclass(frozen=True)
class TrainingPlan:
    batch_size: int                 # rows per step on the device
    accumulation: int               # steps per optimizer update
    unchecked_layers: int           # decoder layers that keep their activations (Unsloth only)
    memory_fraction: float | None   # the share of the GPU the run may allocate, when planned for a smaller card


def plan_training(config: TrainConfig, hardware: Hardware, shape: ModelShape | None,
                  every_layer_checkpointed: bool = False) -> TrainingPlan:
    """The plan for a resolved config; `every_layer_checkpointed` after the run ran out of GPU memory."""
    refuse_impossible(config, hardware, shape)
    batch_size, accumulation = choose_batch_size(config, hardware, shape)
    unchecked = 0 if every_layer_checkpointed else unchecked_layers(config, hardware, shape, batch_size)
    return TrainingPlan(batch_size, accumulation, unchecked,
                        planned_memory_fraction(config.plan_for_gpu_gib, hardware.gpu_memory_gib))


def choose_batch_size(config: TrainConfig, hardware: Hardware, shape: ModelShape | None) -> tuple[int, int]:
    """(micro-batch, accumulation) of each process. Without auto, as configured (so the effective batch
    grows with the processes); with auto, batch × accumulation as configured over all processes: each
    process takes its share, in the largest micro-batch whose estimated memory fits its GPU (on a CPU,
    its whole share at once)."""
    if not config.auto_batch_size:
        return config.batch_size, config.gradient_accumulation_steps
    share = -(-config.effective_batch_size // config.processes)  # rounded up: never a smaller batch than asked
    if not hardware.cuda:
        return share, 1
    if shape is None:  # size unknown: keep the configured micro-batch, accumulation lowered for the processes
        batch = min(config.batch_size, share)
        return batch, -(-share // batch)
    budget = memory_budget_gib(config, hardware)
    for size in (size for size in range(share, 0, -1) if share % size == 0):
        if estimate_training_gib(shape, size, config.max_length, config.load_in_4bit, config.backend) <= budget:
            return size, share // size
    return 1, share


def memory_budget_gib(config: TrainConfig, hardware: Hardware) -> float:
    """What a step may take on this GPU (or on the smaller one the config plans for), leaving some
    spare; what other processes hold (a chat model, a desktop) is not there to take."""
    memory = hardware.gpu_memory_gib
    if config.plan_for_gpu_gib:
        memory = min(memory, config.plan_for_gpu_gib)
    if hardware.gpu_free_gib is not None:  # measured after this process's context, which the estimate counts
        memory = min(memory, hardware.gpu_free_gib + CUDA_CONTEXT_GIB)
    return memory * USABLE_SHARE


def unchecked_layers(config: TrainConfig, hardware: Hardware, shape: ModelShape | None, batch_size: int) -> int:
    """Decoder layers that skip gradient checkpointing: as many as the memory left at this batch holds
    (Unsloth on CUDA only; 0 when checkpointing is off, since then no layer is checkpointed)."""
    if not (config.gradient_checkpointing and hardware.cuda and shape is not None):
        return 0
    return layers_to_leave_unchecked(shape, batch_size, config.max_length, config.load_in_4bit, config.backend,
                                     memory_budget_gib(config, hardware))


def refuse_impossible(config: TrainConfig, hardware: Hardware, shape: ModelShape | None) -> None:
    """A model too large for a CPU, or for this GPU even at batch 1, is refused with what to change."""
    if shape is None:
        return
    if not hardware.cuda and shape.parameters > CPU_MAX_PARAMETERS:
        raise UserError(f"{config.base_model} has about {shape.parameters / 1e9:.1f} B parameters: training it needs "
                        "an NVIDIA GPU. On this machine, train the demo model (chat with any GGUF still works).",
                        ko=f"{config.base_model}은(는) 파라미터가 약 {shape.parameters / 1e9:.1f} B개라 학습하려면 "
                           "NVIDIA GPU가 있어야 합니다. 이 머신에서는 데모 모델을 학습하세요"
                           "(GGUF 모델과의 채팅은 그대로 됩니다).")
    if hardware.cuda:
        need = estimate_training_gib(shape, 1, config.max_length, config.load_in_4bit, config.backend)
        if need > hardware.gpu_memory_gib:
            several, several_ko = "", ""
            if config.processes > 1:
                several = (" Several GPUs do not share the model: each process holds a whole copy (DDP), so a base "
                           "too large for one card trains in 4-bit (QLoRA) on each. Sharding it across the cards "
                           "(FSDP) is not offered: it has not been tried here on a machine with several GPUs.")
                several_ko = (" GPU 여러 개가 모델을 나눠 갖지 않습니다. 프로세스마다 모델 전체를 올리므로(DDP) 카드 "
                              "하나에 안 들어가는 모델은 각 GPU에서 4비트(QLoRA)로 학습합니다. 모델을 카드들에 나눠 "
                              "싣는 FSDP는 GPU 여러 개가 있는 머신에서 아직 시험하지 못해 제공하지 않습니다.")
            raise UserError(f"{config.base_model} needs about {need:.1f} GiB even at batch 1 and max length "
                            f"{config.max_length}, more than this GPU's {hardware.gpu_memory_gib:.0f} GiB: turn "
                            "4-bit on, or lower the max length." + several,
                            ko=f"{config.base_model}은(는) 배치 크기 1, 최대 길이 {config.max_length}에서도 약 "
                               f"{need:.1f} GiB가 필요해 이 GPU의 {hardware.gpu_memory_gib:.0f} GiB를 넘습니다. "
                               "4비트를 켜거나 최대 길이를 줄이세요." + several_ko, field="load_in_4bit")


def hold_to_plan(plan: TrainingPlan, config: TrainConfig, hardware: Hardware) -> None:
    """Planning for a smaller card also caps the allocator there, so a run that would not fit that
    card runs out of memory here too, rather than passing on the bigger GPU."""
    if plan.memory_fraction is None:  # no smaller plan, or no GPU
        return
    import torch

    torch.cuda.set_per_process_memory_fraction(plan.memory_fraction)
    print(f"GPU memory held to {plan.memory_fraction * hardware.gpu_memory_gib:.1f} GiB of "
          f"{hardware.gpu_memory_gib:.0f} (planned for a {config.plan_for_gpu_gib:g} GiB card)", flush=True)
