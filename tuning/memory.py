"""GPU memory estimate for LoRA/QLoRA training, from a model's shape, calibrated on measurements.

Calibration (H200, random-weight Llama-3-8B shape, LoRA r=16 on all seven projections, adamw_8bit,
bf16, 2026-11-28; docs/benchmarks.md):
    Unsloth 4-bit, max length 1024 (../shared/gpu/README.md): batch 2: 6.36 GiB, batch 8: 7.38 GiB
    Unsloth 4-bit, the project's setup, one step at growing lengths (bench/gpu_training.py maxlen):
        batch 1: 8,192 tokens 7.83 GiB, 32,768: 14.02, 65,536: 22.40; batch 2: 32,768: 22.41
    Unsloth 4-bit, no checkpointing (bench/gpu_training.py sweep): 1, 2, 4 rows of 1,024 tokens:
        9.78, 13.55, 20.86 GiB; 8 rows with 14 of 32 layers unchecked: 19.79 GiB
    transformers+PEFT+bnb NF4, SDPA, checkpointing: batch 2: 9.42 GiB, batch 8: 14.84 GiB
The Unsloth terms follow the long rows (about 0.26 GiB per 1,000 tokens in the batch) and
overestimate short ones by up to 0.6 GiB; they never underestimate a measurement by more than
0.15 GiB. The estimate adds CUDA_CONTEXT_GIB on top, which the allocated peak does not count but
the card must hold.
"""
from __future__ import annotations

from pathlib import Path

from core.i18n import Text
from models.presets import PRESETS
from models.shape import LLAMA3_8B, ModelShape

GIB = 2**30
CUDA_CONTEXT_GIB = 0.5            # allocator slack and kernels beyond what PyTorch reports as allocated
USABLE_SHARE = 0.9                # of a GPU's memory that training plans to use; the rest stays spare
# Activation bytes per token, per (layer × hidden), with gradient checkpointing, by backend.
ACTIVATION_BYTES = {"unsloth": 2.09, "hf": 1.33}
# The same for a layer left un-checkpointed (Unsloth only): it keeps its activations for backward.
# The same for a layer left un-checkpointed (Unsloth only): what one token keeps in such a layer, in
# bytes, grows with the layer's widths and, through attention, with the row's length. Fitted to three
# shapes on the H200, 1,024-token rows, batch 8 (bench/results/gpu_families-2026-12-03.json): Llama-3-8B
# (31 bytes per hidden unit), EXAONE 4 1.2B (39: all 30 layers unchecked at 20.12 GiB), Polyglot-Ko
# 12.8B (at least 39: 9 unchecked layers ran out of a 23.5 GiB cap; every layer checked: 9.25 GiB).
UNCHECKED_PER_WIDTH = 3.56       # per unit of hidden + MLP width
UNCHECKED_PER_SCORE = 1.61       # per attention head and position of the row
UNCHECKED_PER_KEY_VALUE = 4.19   # per key and value element
# Logit bytes per token per vocabulary entry: Unsloth's fused cross-entropy never holds them all.
LOGIT_BYTES = {"unsloth": 0.0, "hf": 5.9}
# Overhead beyond weights (LoRA weights, gradients and optimizer states, buffers) at 8B, by backend;
# scaled by parameter count for other sizes.
FIXED_GIB = {"unsloth": 0.44, "hf": 2.24}


def planned_memory_fraction(plan_gib: float | None, gpu_gib: float | None) -> float | None:
    """The share of this GPU that PyTorch may allocate when a run plans for a smaller card: that
    card's memory less its CUDA context. None when there is no smaller plan to hold to."""
    if not plan_gib or not gpu_gib or plan_gib >= gpu_gib:
        return None
    return max(plan_gib - CUDA_CONTEXT_GIB, 0.0) / gpu_gib


LLAMA3_8B_PARAMETERS = LLAMA3_8B.parameters


def unchecked_bytes_per_token(shape: ModelShape, max_length: int) -> float:
    """What one token keeps in a decoder layer that skips gradient checkpointing (Unsloth)."""
    key_value = 2 * shape.num_key_value_heads * shape.head_dim
    return (UNCHECKED_PER_WIDTH * (shape.hidden_size + shape.intermediate_size)
            + UNCHECKED_PER_SCORE * shape.num_attention_heads * max_length + UNCHECKED_PER_KEY_VALUE * key_value)


def estimate_training_gib(shape: ModelShape, batch_size: int, max_length: int, load_in_4bit: bool,
                          backend: str, unchecked_layers: int = 0) -> float:
    """Peak GPU memory (allocated peak plus CUDA context) for a step at this micro-batch of
    max_length-token rows, with `unchecked_layers` decoder layers kept out of gradient checkpointing."""
    backend = "unsloth" if backend == "unsloth" else "hf"
    layer_bytes = shape.layer_parameters * (0.5 + 0.03 if load_in_4bit else 2)  # NF4 plus its scales
    weights = layer_bytes + shape.embedding_parameters * 2                     # embeddings stay 16-bit
    tokens = batch_size * max_length
    activations = tokens * shape.num_hidden_layers * shape.hidden_size * ACTIVATION_BYTES[backend]
    unchecked = unchecked_bytes_per_token(shape, max_length) - ACTIVATION_BYTES[backend] * shape.hidden_size
    activations += tokens * unchecked_layers * unchecked
    logits = tokens * shape.vocab_size * LOGIT_BYTES[backend]
    fixed = FIXED_GIB[backend] * shape.parameters / LLAMA3_8B_PARAMETERS  # optimizer states etc. grow with the model
    return round((weights + activations + logits) / GIB + fixed + CUDA_CONTEXT_GIB, 2)


def layers_to_leave_unchecked(shape: ModelShape, batch_size: int, max_length: int, load_in_4bit: bool,
                              backend: str, memory_gib: float) -> int:
    """How many decoder layers may skip gradient checkpointing within `memory_gib` (Unsloth only).

    Each skipped layer saves its forward's recomputation in backward: on an H200, 8 rows of 1,024
    tokens, the 8B shape planned for a 24 GB card left 14 of 32 layers unchecked and went from 11,546
    to 13,045 tokens/s at 19.79 GiB (docs/benchmarks.md).
    """
    if backend != "unsloth":
        return 0
    fitting = [count for count in range(shape.num_hidden_layers + 1)
               if estimate_training_gib(shape, batch_size, max_length, load_in_4bit, backend, count) <= memory_gib]
    return fitting[-1] if fitting else 0


def longest_fitting_length(shape: ModelShape, batch_size: int, load_in_4bit: bool, backend: str,
                           memory_gib: float, step: int = 1024, limit: int = 131072) -> int:
    """The longest max length (a multiple of `step`) whose estimate fits `memory_gib`; 0 if none."""
    fitting = [length for length in range(step, limit + 1, step)
               if estimate_training_gib(shape, batch_size, length, load_in_4bit, backend) <= memory_gib]
    return fitting[-1] if fitting else 0


KNOWN_SHAPES = {"meta-llama/Meta-Llama-3-8B": LLAMA3_8B, **{item.model_id: item.shape for item in PRESETS if item.shape}}


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
    if base_model == "demo":  # not built yet: its shape is fixed in advance
        from models.demo import MODEL_SHAPE, VOCAB_SIZE

        fields = {name: MODEL_SHAPE[name] for name in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                                         "num_attention_heads", "num_key_value_heads",
                                                         "tie_word_embeddings")}
        return ModelShape(**fields, vocab_size=VOCAB_SIZE)
    return KNOWN_SHAPES.get(base_model)


def memory_advice(shape: ModelShape | None, batch_size: int, max_length: int, load_in_4bit: bool, backend: str,
                  gpu_name: str | None, gpu_memory_gib: float | None) -> str:
    """One line for the Train tab: the estimate, and whether it fits the GPU found (English, with Korean)."""
    if shape is None:
        return Text("Memory estimate: unknown until the model's config.json is available "
                    "(download it, or pick a local folder).",
                    "메모리 추정: 모델의 config.json이 있어야 알 수 있습니다(내려받거나 로컬 폴더를 고르세요).")
    need = estimate_training_gib(shape, batch_size, max_length, load_in_4bit, backend)
    if shape.parameters >= 1e8:
        size, size_ko = f"{shape.parameters / 1e9:.2f} B parameters", f"파라미터 {shape.parameters / 1e9:.2f} B개"
    else:
        size, size_ko = f"{shape.parameters / 1e6:.1f} M parameters", f"파라미터 {shape.parameters / 1e6:.1f} M개"
    bits = "4-bit" if load_in_4bit else "16-bit"
    bits_ko = "4비트" if load_in_4bit else "16비트"
    line = (f"Estimated GPU memory: **{need:.1f} GiB** ({size}, {bits}, "
            f"batch {batch_size} × {max_length} tokens, {backend}).")
    line_ko = (f"예상 GPU 메모리: **{need:.1f} GiB** ({size_ko}, {bits_ko}, "
               f"배치 {batch_size} × {max_length} 토큰, {backend}).")
    if gpu_memory_gib is None:
        return Text(line + " No NVIDIA GPU here: training runs on the CPU, which suits the demo model only.",
                    line_ko + " NVIDIA GPU가 없습니다. 학습은 CPU에서 진행되며, 데모 모델에만 적합합니다.")
    budget = gpu_memory_gib * USABLE_SHARE
    if need > budget:
        return Text(line + f" ⚠️ This will not fit {gpu_name} ({gpu_memory_gib:.0f} GiB): "
                           "turn 4-bit on, or lower the batch or max length.",
                    line_ko + f" ⚠️ {gpu_name}({gpu_memory_gib:.0f} GiB)에 들어가지 않습니다. 4비트를 켜거나 배치 크기나 "
                              "최대 길이를 줄이세요.")
    longest = longest_fitting_length(shape, batch_size, load_in_4bit, backend, budget)
    line += f" Fits {gpu_name} ({gpu_memory_gib:.0f} GiB), up to a max length of about {longest:,} tokens at this batch."
    line_ko += (f" {gpu_name}({gpu_memory_gib:.0f} GiB)에 들어갑니다. 이 배치 크기로 최대 길이 약 {longest:,} 토큰까지 "
                "됩니다.")
    unchecked = layers_to_leave_unchecked(shape, batch_size, max_length, load_in_4bit, backend, budget)
    if unchecked:
        total = estimate_training_gib(shape, batch_size, max_length, load_in_4bit, backend, unchecked)
        line += (f" The room left lets {unchecked} of {shape.num_hidden_layers} layers skip gradient checkpointing "
                 f"(faster; about {total:.1f} GiB in all).")
        line_ko += (f" 남는 메모리로 {shape.num_hidden_layers}개 층 중 {unchecked}개는 그래디언트 체크포인팅 없이 "
                    f"학습합니다(더 빠름, 모두 약 {total:.1f} GiB).")
    return Text(line, line_ko)
