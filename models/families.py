"""The model families the app fine-tunes, exports and chats with, told apart by config.json's
`model_type`, and the modules LoRA targets in each for "all projections". Unsloth trains every one of
them (each was run on the project's GPU: docs/benchmarks.md). A family's GGUF conversion is checked
per model, before training (models.gguf.conversion_problem)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError

ALL = "all"  # target_modules ["all"]: every attention and MLP projection of the model's family
LLAMA_STYLE = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
GPT_NEOX = ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h")
EXTRA_TARGETS = ("lm_head", "embed_tokens", "embed_out", "embed_in")


@dataclass(frozen=True)
class Family:
    name: str
    model_types: tuple[str, ...]
    projections: tuple[str, ...]

    def check_targets(self, targets: list[str]) -> list[str]:
        """The LoRA targets for this family: ["all"] becomes its projections; a name the family does not
        have is refused with the names it does."""
        if targets == [ALL]:
            return list(self.projections)
        unknown = sorted(set(targets) - set(self.projections) - set(EXTRA_TARGETS))
        if unknown:
            names = ", ".join(self.projections)
            raise UserError(f"{self.name} models have no modules named {', '.join(unknown)}: LoRA can target "
                            f"{names} (or 'all' for every one of them).",
                            ko=f"{self.name} 모델에는 {', '.join(unknown)} 모듈이 없습니다. LoRA 대상은 {names} "
                               "중에서 고르세요('all'이면 전부).")
        return list(targets)


FAMILIES = (
    Family("Llama", ("llama",), LLAMA_STYLE),
    Family("GPT-NeoX", ("gpt_neox",), GPT_NEOX),
    Family("EXAONE 4", ("exaone4",), LLAMA_STYLE),
    Family("Qwen 2", ("qwen2",), LLAMA_STYLE),
    Family("Qwen 3", ("qwen3",), LLAMA_STYLE),
    Family("Gemma 2", ("gemma2",), LLAMA_STYLE),
    Family("Gemma 3", ("gemma3_text", "gemma3"), LLAMA_STYLE),
)


def family_of_type(model_type: str) -> Family:
    for family in FAMILIES:
        if model_type in family.model_types:
            return family
    known = ", ".join(f"{family.name} ({'/'.join(family.model_types)})" for family in FAMILIES)
    raise UserError(f"Models of type '{model_type}' have not been proven with this app; it trains, exports and "
                    f"chats with {known}.",
                    ko=f"'{model_type}' 유형의 모델은 이 앱에서 검증되지 않았습니다. 학습, 내보내기, 대화가 검증된 "
                       f"모델은 {known}입니다.")


def family_of(model_dir: str | Path) -> Family:
    config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    return family_of_type(str(config.get("model_type", "")))
