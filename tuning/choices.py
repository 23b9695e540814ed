"""The Train tab's base-model choices, judged for this machine: for each preset, the memory its own
shape needs with the recipe this machine would run (the estimate of tuning.memory), whether that fits
the GPU found, and which backend would train it and why."""
from __future__ import annotations

from dataclasses import dataclass

from core.i18n import Text
from models.families import FAMILIES
from models.presets import PRESETS, Preset
from tuning.config import Hardware, recipe, resolve
from tuning.memory import USABLE_SHARE, estimate_training_gib
from tuning.plan import CPU_MAX_PARAMETERS, choose_batch_size


@dataclass(frozen=True)
class Choice:
    preset: Preset
    need_gib: float | None     # estimated training memory at the micro-batch auto batch would pick
    fits: bool | None          # None: the shape is known only once downloaded
    fit: Text                  # what to tell the user about it
    backend: Text


def judged_presets(hardware: Hardware) -> list[Choice]:
    return [judge(preset, hardware) for preset in PRESETS]


def judge(preset: Preset, hardware: Hardware) -> Choice:
    family = next(family for family in FAMILIES if family.name == preset.family)
    backend = _backend(hardware)
    if preset.shape is None:
        return Choice(preset, None, None, Text("known once its config.json is downloaded",
                                               "config.json을 내려받으면 알 수 있음"), backend)
    if not hardware.cuda:
        fits = preset.shape.parameters <= CPU_MAX_PARAMETERS
        fit = Text("CPU: trains, slowly", "CPU: 학습 가능(느림)") if fits else Text(
            "needs an NVIDIA GPU", "NVIDIA GPU 필요")
        return Choice(preset, None, fits, fit, backend)
    config = resolve(recipe("seed_qlora", dataset="-", base_model=preset.model_id), hardware, family)
    batch, _ = choose_batch_size(config, hardware, preset.shape)
    need = estimate_training_gib(preset.shape, batch, config.max_length, config.load_in_4bit, config.backend)
    fits = need <= hardware.gpu_memory_gib * USABLE_SHARE
    memory = f"{need:.1f} / {hardware.gpu_memory_gib:.0f} GiB"
    fit = Text(f"fits ({memory})", f"들어감({memory})") if fits else Text(f"too large ({memory})", f"너무 큼({memory})")
    return Choice(preset, need, fits, fit, backend)


def _backend(hardware: Hardware) -> Text:
    if hardware.cuda and hardware.unsloth_importable:
        return Text("Unsloth", "Unsloth")
    if hardware.cuda:
        return Text("transformers + PEFT (Unsloth is not installed)", "transformers + PEFT (Unsloth 미설치)")
    return Text("transformers + PEFT (CPU)", "transformers + PEFT (CPU)")
