"""Training settings for this machine: the recipes (a TrainConfig file each, beside this module),
the hardware found, and `resolve()`, which makes every automatic choice ("auto") for the machine and
refuses what cannot run here with a message that says what to change. The config itself is a file
contract: `core.artifacts.TrainConfig`.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from core.artifacts import TrainConfig
from core.errors import UserError
from core.i18n import Text
from core.workspace import DatasetPaths, Workspace
from models.families import Family, family_of_type
from models.resolve import known_chat_template, known_model_type
from tuning import distributed

RECIPES = Path(__file__).resolve().parent / "recipes"
__all__ = ["RECIPES", "Hardware", "TrainConfig", "preflight", "recipe", "resolve"]


UNSLOTH_DDP_UNTRIED = Text(
    "several processes train with transformers + PEFT: Unsloth under DDP has not been run with this project's "
    "versions on several GPUs yet (choose the backend unsloth to try it)",
    "여러 프로세스 학습은 transformers + PEFT로 합니다. 이 프로젝트의 버전으로 Unsloth를 여러 GPU의 DDP에서 돌려 본 적이 "
    "아직 없습니다 (시도하려면 백엔드를 unsloth로 고르세요)")


def recipe(name: str, **overrides) -> TrainConfig:
    """A config from tuning/recipes/<name>.json (keys starting with "_" are notes), with overrides."""
    path = RECIPES / f"{name}.json"
    if not path.is_file():
        raise UserError(f"No recipe named {name}; see {RECIPES}.",
                        ko=f"'{name}' 레시피가 없습니다. {RECIPES} 폴더를 확인하세요.")
    return TrainConfig.from_file(path, **overrides)


class Hardware(BaseModel):
    """What the training process found on this machine."""

    cuda: bool
    gpu_name: str | None = None
    gpu_memory_gib: float | None = None
    gpu_free_gib: float | None = Field(None, description="free when measured (training process only), "
                                                         "after this process's own CUDA context")
    bf16_supported: bool = False
    unsloth_importable: bool = False
    gpu_count: int = 0

    @classmethod
    def detect(cls, measure_free: bool = False, device: int = 0) -> "Hardware":
        """The GPU `device` (a training process's own); measure_free creates a CUDA context there (about
        0.5 GiB): for the training process, not the app."""
        import importlib.util

        import torch

        if not torch.cuda.is_available():
            return cls(cuda=False)
        properties = torch.cuda.get_device_properties(device)
        free = round(torch.cuda.mem_get_info(device)[0] / 2**30, 1) if measure_free else None
        return cls(cuda=True, gpu_name=properties.name, gpu_memory_gib=round(properties.total_memory / 2**30, 1),
                   # by compute capability: torch's own check makes a tensor on GPU 0 on older cards
                   gpu_free_gib=free, bf16_supported=properties.major >= 8,
                   unsloth_importable=importlib.util.find_spec("unsloth") is not None,
                   gpu_count=torch.cuda.device_count())


def resolve(config: TrainConfig, hardware: Hardware, family: Family | None = None) -> TrainConfig:
    """The config with every automatic choice made for this machine and, when known, for the model's
    family (its LoRA targets); refuses what cannot run here."""
    backend = config.backend
    if backend == "auto":  # several processes: see UNSLOTH_DDP_UNTRIED
        backend = "unsloth" if hardware.cuda and hardware.unsloth_importable and config.processes == 1 else "hf"
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
    _refuse_missing_gpus(config, hardware)
    targets = family.check_targets(config.target_modules) if family is not None else config.target_modules
    return config.model_copy(update=dict(backend=backend, load_in_4bit=load_in_4bit, bf16=bf16, optim=optim,
                                         target_modules=targets))


def _refuse_missing_gpus(config: TrainConfig, hardware: Hardware) -> None:
    # a training process of several sees only the GPUs its leader chose, renumbered from 0
    if not hardware.cuda or (config.processes == 1 and not config.gpus) or distributed.is_worker():
        return
    missing = [index for index in config.gpus or [] if index >= hardware.gpu_count]
    if missing or config.processes > hardware.gpu_count:
        raise UserError(f"{config.processes} training processes need {config.processes} GPUs (one each), and this "
                        f"machine has {hardware.gpu_count}: choose at most {hardware.gpu_count}"
                        + (f" (there is no GPU {missing[0]})" if missing else "") + ".",
                        ko=f"학습 프로세스 {config.processes}개에는 GPU가 {config.processes}개(하나씩) 필요한데 이 머신에는 "
                           f"{hardware.gpu_count}개가 있습니다. {hardware.gpu_count}개 이하로 고르세요"
                           + (f"(GPU {missing[0]}은(는) 없습니다)" if missing else "") + ".", field="processes")


def preflight(config: TrainConfig, hardware: Hardware, workspace: Workspace | None = None) -> TrainConfig:
    """The config resolved for this machine (and for the model's family when it can be read without a
    download), refused (UserError) if it cannot run here; the app calls this too, so a bad start is
    refused before any process is launched."""
    if not DatasetPaths(Path(config.dataset)).train.is_file():
        raise UserError(f"{config.dataset} is not a prepared dataset (no train.jsonl); prepare one in the Dataset tab.",
                        ko=f"{config.dataset}은(는) 준비된 데이터셋이 아닙니다(train.jsonl 없음). "
                           "데이터셋 탭에서 데이터셋을 준비하세요.")
    if config.prompt_format == "chat_template" and known_chat_template(config.base_model) is False:
        raise UserError(f"{config.base_model}'s tokenizer has no chat template: use the prompt format 'lines' "
                        "(the blog post's), which every model can be trained and chatted with.",
                        ko=f"{config.base_model}의 토크나이저에는 채팅 템플릿이 없습니다. 어떤 모델이든 학습하고 대화할 수 "
                           "있는 프롬프트 형식 'lines'(블로그 글의 형식)를 쓰세요.")
    model_type = known_model_type(config.base_model, workspace)
    return resolve(config, hardware, family_of_type(model_type) if model_type is not None else None)
