"""Loading a base model with LoRA adapters for training: Unsloth where CUDA allows, otherwise
transformers + PEFT (+ bitsandbytes 4-bit on CUDA). The caller passes a resolved TrainConfig."""
from __future__ import annotations

from core.artifacts import TrainConfig
from models.quantization import nf4_quantization
from tuning import distributed


def load_for_training(config: TrainConfig, model_path: str, unchecked_layers: int = 0):
    """(model with LoRA adapters, tokenizer) for `config.backend`; with Unsloth, `unchecked_layers`
    decoder layers (evenly spaced) keep their activations instead of recomputing them."""
    if config.backend == "unsloth":
        return _load_unsloth(config, model_path, unchecked_layers)
    return _load_hf(config, model_path)


def _load_unsloth(config: TrainConfig, model_path: str, unchecked_layers: int):
    import unsloth  # noqa: F401  (must come before transformers, trl and peft are used)
    from unsloth import FastLanguageModel

    # several processes: each loads onto its own GPU (Unsloth's DDP guide); one: Unsloth's default
    placement = {"device_map": {"": distributed.local_rank()}} if distributed.world_size() > 1 else {}
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_path, max_seq_length=config.max_length, dtype=None, load_in_4bit=config.load_in_4bit,
        trust_remote_code=config.trust_remote_code, **placement,
    )
    model = FastLanguageModel.get_peft_model(
        model, r=config.lora_r, target_modules=config.target_modules, lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout, bias=config.lora_bias,
        use_gradient_checkpointing="unsloth" if config.gradient_checkpointing else False,
        random_state=config.seed, max_seq_length=config.max_length, use_rslora=False, loftq_config=None,
        checkpoint_skip_layers=unchecked_layers if config.gradient_checkpointing else 0,
    )
    return model, _with_pad_token(tokenizer)


def _load_hf(config: TrainConfig, model_path: str):
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=config.trust_remote_code)
    dtype = torch.bfloat16 if config.bf16 else torch.float32
    kwargs = dict(dtype=dtype, attn_implementation="sdpa", use_safetensors=True,
                  trust_remote_code=config.trust_remote_code)
    device = {"": distributed.local_rank()}  # each training process its own GPU
    if config.load_in_4bit:
        kwargs.update(device_map=device, quantization_config=nf4_quantization(dtype))
    elif torch.cuda.is_available():
        kwargs.update(device_map=device)
    model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    if config.load_in_4bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    set_seed(config.seed)  # the LoRA weights' random start: the same in every run, and in every process
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      bias=config.lora_bias, target_modules=config.target_modules, task_type="CAUSAL_LM")
    return get_peft_model(model, lora), _with_pad_token(tokenizer)


def _with_pad_token(tokenizer):
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
