"""The training config: one validated object whose defaults are the blog post's recipe.

The UI fills it, the run directory stores it (`config.json`), and `python -m tuning.train` reads it.
Choices that depend on the machine ("auto") are resolved by `resolve()` before anything starts,
and bad combinations are refused with a message that says what to change.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import UserError
from tuning.models import DEFAULT_BASE_MODEL

RECIPES = Path(__file__).resolve().parent / "recipes"
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="a prepared dataset folder (train.jsonl, val.jsonl)")
    base_model: str = Field(DEFAULT_BASE_MODEL, description="demo, a Hugging Face id, or a local model folder")
    backend: Literal["auto", "unsloth", "hf"] = Field(
        "auto", description="auto: Unsloth when CUDA is there and it imports, else transformers + PEFT")
    load_in_4bit: bool | None = Field(None, description="QLoRA: 4-bit base weights (default: on with CUDA)")
    lora_r: int = Field(16, ge=1, le=1024)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    lora_bias: Literal["none", "all", "lora_only"] = "none"
    target_modules: list[str] = Field(default_factory=lambda: list(LORA_TARGETS), min_length=1)
    max_length: int = Field(1024, ge=16, le=131072)
    batch_size: int = Field(2, ge=1, description="rows per step on the device (the micro-batch)")
    gradient_accumulation_steps: int = Field(4, ge=1)
    auto_batch_size: bool = Field(True, description="keep batch × accumulation, choose the largest batch that fits")
    plan_for_gpu_gib: float | None = Field(
        None, gt=0, description="choose batch and checkpointing as if the GPU had this much memory (default: its own) "
                                "and let the run allocate no more; 24 keeps a run within what an RTX 4090 holds")
    packing: bool = Field(True, description="pack short conversations into full rows; attention stays inside each")
    prompt_format: Literal["lines", "chat_template"] = Field(
        "lines", description="lines: `user: …`/`bot: …` text as the blog post; chat_template: the tokenizer's template")
    loss_on: Literal["all", "bot"] | None = Field(
        None, description="all: every token (the blog post); bot: only the bot's turns. Default: all for lines, "
                          "bot for chat_template")
    warmup_steps: int = Field(10, ge=0)
    learning_rate: float = Field(2e-4, gt=0, le=1.0)
    lr_scheduler_type: str = "linear"
    weight_decay: float = Field(0.01, ge=0)
    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, description="stop after this many optimizer steps; -1: run the epochs")
    logging_steps: int = Field(10, ge=1)
    save_steps: int = Field(50, ge=1, description="a checkpoint every this many steps")
    save_total_limit: int = Field(3, ge=1)
    eval_steps: int | None = Field(None, ge=1, description="validation loss every this many steps; default: logging_steps")
    seed: int = 3407
    bf16: bool | None = Field(None, description="default: on where the GPU supports it")
    optim: str | None = Field(None, description="default: adamw_8bit on CUDA, adamw_torch on CPU")
    gradient_checkpointing: bool = Field(
        True, description="recompute activations in backward; with Unsloth, layers that fit the GPU's room skip it")
    trust_remote_code: bool = False

    @model_validator(mode="after")
    def _check_combinations(self):
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError("max_steps must be -1 (run the epochs) or a positive number of steps")
        if self.loss_on is None:
            self.loss_on = "bot" if self.prompt_format == "chat_template" else "all"
        unknown = sorted(set(self.target_modules) - set(LORA_TARGETS) - {"lm_head", "embed_tokens"})
        if unknown:
            raise ValueError(f"unknown LoRA target modules {unknown}; choose from {LORA_TARGETS}")
        return self

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size * self.gradient_accumulation_steps

    def save(self, path: Path) -> None:
        from core import fileio

        fileio.write_json(path, self.model_dump())

    @classmethod
    def recipe(cls, name: str, **overrides) -> "TrainConfig":
        """A config from tuning/recipes/<name>.json (keys starting with "_" are notes), with overrides."""
        from core import fileio

        values = fileio.read_json(RECIPES / f"{name}.json")
        if values is None:
            raise UserError(f"No recipe named {name}; see {RECIPES}.",
                            ko=f"'{name}' 레시피가 없습니다. {RECIPES} 폴더를 확인하세요.")
        values = {key: value for key, value in values.items() if not key.startswith("_")}
        return cls.model_validate({**values, **overrides})

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        from core import fileio

        data = fileio.read_json(path)
        if data is None:
            raise UserError(f"No training config at {path}.", ko=f"{path}에 학습 설정이 없습니다.")
        return cls.model_validate(data)


class Hardware(BaseModel):
    """What the training process found on this machine."""

    cuda: bool
    gpu_name: str | None = None
    gpu_memory_gib: float | None = None
    gpu_free_gib: float | None = Field(None, description="free when measured (training process only), "
                                                         "after this process's own CUDA context")
    bf16_supported: bool = False
    unsloth_importable: bool = False

    @classmethod
    def detect(cls, measure_free: bool = False) -> "Hardware":
        """measure_free creates a CUDA context (about 0.5 GiB on the GPU): for the training process, not the app."""
        import importlib.util

        import torch

        if not torch.cuda.is_available():
            return cls(cuda=False)
        properties = torch.cuda.get_device_properties(0)
        free = round(torch.cuda.mem_get_info(0)[0] / 2**30, 1) if measure_free else None
        return cls(cuda=True, gpu_name=properties.name, gpu_memory_gib=round(properties.total_memory / 2**30, 1),
                   gpu_free_gib=free, bf16_supported=torch.cuda.is_bf16_supported(),
                   unsloth_importable=importlib.util.find_spec("unsloth") is not None)


def resolve(config: TrainConfig, hardware: Hardware) -> TrainConfig:
    """The config with every automatic choice made for this machine; refuses what cannot run here."""
    backend = config.backend
    if backend == "auto":
        backend = "unsloth" if hardware.cuda and hardware.unsloth_importable else "hf"
    if backend == "unsloth" and not hardware.cuda:
        raise UserError("The Unsloth backend needs an NVIDIA GPU (CUDA); choose backend 'hf' or 'auto'.",
                        ko="Unsloth 백엔드는 NVIDIA GPU(CUDA)가 있어야 합니다. 백엔드를 'hf'나 'auto'로 고르세요.")
    if backend == "unsloth" and not hardware.unsloth_importable:
        raise UserError("Unsloth is not installed: run scripts/setup.sh on the GPU machine, or choose backend 'hf'.",
                        ko="Unsloth가 설치되어 있지 않습니다. GPU 머신에서 scripts/setup.sh를 실행하거나 "
                           "백엔드를 'hf'로 고르세요.")
    load_in_4bit = hardware.cuda if config.load_in_4bit is None else config.load_in_4bit
    if load_in_4bit and not hardware.cuda:
        raise UserError("4-bit loading (QLoRA) needs an NVIDIA GPU with bitsandbytes; turn 4-bit off on this machine.",
                        ko="4비트 로딩(QLoRA)은 bitsandbytes를 쓸 수 있는 NVIDIA GPU가 있어야 합니다. "
                           "이 머신에서는 4비트를 끄세요.")
    bf16 = hardware.bf16_supported if config.bf16 is None else config.bf16
    if bf16 and not hardware.bf16_supported:
        raise UserError("bf16 is not supported here (no GPU, or a GPU older than Ampere); turn bf16 off.",
                        ko="이 머신은 bf16을 지원하지 않습니다(GPU가 없거나 Ampere보다 오래된 GPU). bf16을 끄세요.")
    optim = config.optim or ("adamw_8bit" if hardware.cuda else "adamw_torch")
    if "8bit" in optim and not hardware.cuda:
        raise UserError(f"The optimizer {optim} needs bitsandbytes on an NVIDIA GPU; use adamw_torch on this machine.",
                        ko=f"옵티마이저 {optim}은(는) NVIDIA GPU의 bitsandbytes가 있어야 합니다. "
                           "이 머신에서는 adamw_torch를 쓰세요.")
    return config.model_copy(update=dict(backend=backend, load_in_4bit=load_in_4bit, bf16=bf16, optim=optim))
