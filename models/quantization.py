"""How a base model is quantized when it is loaded for QLoRA: training and chat load it alike."""
from __future__ import annotations


def nf4_quantization(compute_dtype):
    """QLoRA's 4-bit base (bitsandbytes NF4, double quantization)."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype)
