"""GPU memory estimate for LoRA/QLoRA training, from a model's shape, calibrated on measurements.

Calibration (H200, random-weight Llama-3-8B shape, max length 1024, LoRA r=16 on all seven
projections, adamw_8bit, bf16; ../shared/gpu/README.md, 2026-11-28):
    Unsloth 4-bit:                  batch 2: 6.36 GiB, batch 8: 7.38 GiB
    transformers+PEFT+bnb NF4, SDPA, checkpointing: batch 2: 9.42 GiB, batch 8: 14.84 GiB
The terms below reproduce those four allocated peaks to within 0.1 GiB; the estimate adds
CUDA_CONTEXT_GIB on top, which the allocated peak does not count but the card must hold.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

GIB = 2**30
CUDA_CONTEXT_GIB = 0.5            # allocator slack and kernels beyond what PyTorch reports as allocated
# Activation bytes per token, per (layer × hidden), with gradient checkpointing, by backend.
ACTIVATION_BYTES = {"unsloth": 1.33, "hf": 1.33}
# Logit bytes per token per vocabulary entry: Unsloth's fused cross-entropy never holds them all.
LOGIT_BYTES = {"unsloth": 0.0, "hf": 5.9}
# Overhead beyond weights (LoRA weights, gradients and optimizer states, buffers) at 8B, by backend;
# scaled by parameter count for other sizes.
FIXED_GIB = {"unsloth": 0.62, "hf": 2.24}


@dataclass(frozen=True)
class ModelShape:
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int
    tie_word_embeddings: bool = False

    @classmethod
    def from_folder(cls, model_dir: str | Path) -> "ModelShape":
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
        config = config.get("text_config", config)
        return cls(
            hidden_size=config["hidden_size"], intermediate_size=config["intermediate_size"],
            num_hidden_layers=config["num_hidden_layers"], num_attention_heads=config["num_attention_heads"],
            num_key_value_heads=config.get("num_key_value_heads", config["num_attention_heads"]),
            vocab_size=config["vocab_size"], tie_word_embeddings=config.get("tie_word_embeddings", False),
        )

    @property
    def embedding_parameters(self) -> int:
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    @property
    def layer_parameters(self) -> int:
        head_dim = self.hidden_size // self.num_attention_heads
        attention = 2 * self.hidden_size * self.hidden_size + 2 * self.hidden_size * self.num_key_value_heads * head_dim
        return self.num_hidden_layers * (attention + 3 * self.hidden_size * self.intermediate_size)

    @property
    def parameters(self) -> int:
        return self.embedding_parameters + self.layer_parameters


LLAMA3_8B = ModelShape(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                       num_key_value_heads=8, vocab_size=128256)
LLAMA3_8B_PARAMETERS = LLAMA3_8B.parameters


def estimate_training_gib(shape: ModelShape, batch_size: int, max_length: int, load_in_4bit: bool,
                          backend: str) -> float:
    """Peak GPU memory (allocated peak plus CUDA context) for a step at this micro-batch of
    max_length-token rows."""
    backend = "unsloth" if backend == "unsloth" else "hf"
    layer_bytes = shape.layer_parameters * (0.5 + 0.03 if load_in_4bit else 2)  # NF4 plus its scales
    weights = layer_bytes + shape.embedding_parameters * 2                     # embeddings stay 16-bit
    tokens = batch_size * max_length
    activations = tokens * shape.num_hidden_layers * shape.hidden_size * ACTIVATION_BYTES[backend]
    logits = tokens * shape.vocab_size * LOGIT_BYTES[backend]
    fixed = FIXED_GIB[backend] * shape.parameters / LLAMA3_8B_PARAMETERS  # optimizer states etc. grow with the model
    return round((weights + activations + logits) / GIB + fixed + CUDA_CONTEXT_GIB, 2)


KNOWN_SHAPES = {"beomi/Llama-3-Open-Ko-8B": LLAMA3_8B, "meta-llama/Meta-Llama-3-8B": LLAMA3_8B}


def shape_of(base_model: str, model_dir: str | Path | None = None) -> ModelShape | None:
    """The model's shape from its folder, the Hugging Face cache, or the table of known models."""
    candidates = [Path(model_dir)] if model_dir else []
    candidates.append(Path(base_model).expanduser())
    for folder in candidates:
        if (folder / "config.json").is_file():
            return ModelShape.from_folder(folder)
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(base_model, "config.json")
        if isinstance(cached, str):
            return ModelShape.from_folder(Path(cached).parent)
    except Exception:  # noqa: BLE001 - not a repo id: fall through to the table
        pass
    return KNOWN_SHAPES.get(base_model)


def memory_advice(shape: ModelShape | None, batch_size: int, max_length: int, load_in_4bit: bool, backend: str,
                  gpu_name: str | None, gpu_memory_gib: float | None) -> str:
    """One line for the Train tab: the estimate, and whether it fits the GPU found."""
    if shape is None:
        return "Memory estimate: unknown until the model's config.json is available (download it, or pick a local folder)."
    need = estimate_training_gib(shape, batch_size, max_length, load_in_4bit, backend)
    size = f"{shape.parameters / 1e9:.2f} B parameters" if shape.parameters >= 1e8 else f"{shape.parameters / 1e6:.1f} M parameters"
    line = (f"Estimated GPU memory: **{need:.1f} GiB** ({size}, {'4-bit' if load_in_4bit else '16-bit'}, "
            f"batch {batch_size} × {max_length} tokens, {backend}).")
    if gpu_memory_gib is None:
        return line + " No NVIDIA GPU here: training runs on the CPU, which suits the demo model only."
    if need > gpu_memory_gib * 0.9:
        return line + f" ⚠️ This will not fit {gpu_name} ({gpu_memory_gib:.0f} GiB): turn 4-bit on, or lower the batch or max length."
    return line + f" Fits {gpu_name} ({gpu_memory_gib:.0f} GiB)."
