"""Base models offered in the Train tab: Korean-capable models of every family the app proves, each
with its Hugging Face id, size, licence and shape (for the memory estimate before any download), as
their model cards and config files state them. The default is the blog post's model."""
from __future__ import annotations

from dataclasses import dataclass

from core.artifacts import DEFAULT_BASE_MODEL
from models.shape import LLAMA3_8B, ModelShape


@dataclass(frozen=True)
class Preset:
    model_id: str
    name: str
    family: str
    billions: float                   # parameters, as the model card gives them
    licence: str
    commercial: bool                  # whether the licence allows commercial use
    gated: bool = False               # the Hub asks to accept terms first: a token is needed
    shape: ModelShape | None = None   # None: known once its config.json is downloaded
    note: str = ""


PRESETS = (
    Preset(DEFAULT_BASE_MODEL, "Llama-3-Open-Ko-8B (the blog post's)", "Llama", 8.0, "Llama 3 Community License", True,
           shape=LLAMA3_8B),
    Preset("kakaocorp/kanana-1.5-2.1b-instruct-2505", "Kakao Kanana 1.5 2.1B Instruct", "Llama", 2.1, "Apache-2.0",
           True),
    Preset("naver-hyperclovax/HyperCLOVAX-SEED-Text-Instruct-0.5B", "Naver HyperCLOVA X SEED 0.5B Instruct", "Llama",
           0.57, "HyperCLOVA X SEED Model License", True),
    Preset("EleutherAI/polyglot-ko-1.3b", "EleutherAI Polyglot-Ko 1.3B", "GPT-NeoX", 1.3, "Apache-2.0", True,
           shape=ModelShape(2048, 8192, 24, 16, 16, 30080, gated_mlp=False),
           note="pre-trained on Korean only, no chat template: prompt format 'lines'"),
    Preset("EleutherAI/polyglot-ko-5.8b", "EleutherAI Polyglot-Ko 5.8B", "GPT-NeoX", 5.8, "Apache-2.0", True,
           shape=ModelShape(4096, 16384, 28, 16, 16, 30080, gated_mlp=False),
           note="pre-trained on Korean only, no chat template: prompt format 'lines'"),
    Preset("EleutherAI/polyglot-ko-12.8b", "EleutherAI Polyglot-Ko 12.8B", "GPT-NeoX", 12.8, "Apache-2.0", True,
           shape=ModelShape(5120, 20480, 40, 40, 40, 30080, gated_mlp=False),
           note="pre-trained on Korean only, no chat template: prompt format 'lines'"),
    Preset("LGAI-EXAONE/EXAONE-4.0-1.2B", "LG EXAONE 4.0 1.2B", "EXAONE 4", 1.28,
           "EXAONE AI Model License 1.2 (non-commercial)", False,
           shape=ModelShape(2048, 4096, 30, 32, 8, 102400, tie_word_embeddings=True, head_dim=64)),
    Preset("Qwen/Qwen2.5-1.5B-Instruct", "Qwen2.5 1.5B Instruct", "Qwen 2", 1.54, "Apache-2.0", True,
           shape=ModelShape(1536, 8960, 28, 12, 2, 151936, tie_word_embeddings=True)),
    Preset("Qwen/Qwen3-1.7B", "Qwen3 1.7B", "Qwen 3", 1.7, "Apache-2.0", True,
           shape=ModelShape(2048, 6144, 28, 16, 8, 151936, tie_word_embeddings=True, head_dim=128)),
    Preset("google/gemma-3-1b-it", "Google Gemma 3 1B Instruct", "Gemma 3", 1.0, "Gemma Terms of Use", True,
           gated=True, shape=ModelShape(1152, 6912, 26, 4, 1, 262144, tie_word_embeddings=True, head_dim=256)),
)


def preset(model_id: str) -> Preset | None:
    return next((item for item in PRESETS if item.model_id == model_id), None)
