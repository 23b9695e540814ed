"""Loading a base model with LoRA adapters for training: Unsloth where CUDA allows, otherwise
transformers + PEFT (+ bitsandbytes 4-bit on CUDA). The caller passes a resolved TrainConfig."""
from __future__ import annotations

from pathlib import Path

from core.errors import UserError
from tuning.config import TrainConfig


def load_for_training(config: TrainConfig, model_path: str, unchecked_layers: int = 0):
    """(model with LoRA adapters, tokenizer) for `config.backend`; with Unsloth, `unchecked_layers`
    decoder layers (evenly spaced) keep their activations instead of recomputing them."""
    if config.backend == "unsloth":
        return _load_unsloth(config, model_path, unchecked_layers)
    return _load_hf(config, model_path)


def _load_unsloth(config: TrainConfig, model_path: str, unchecked_layers: int):
    import unsloth  # noqa: F401  (must come before transformers, trl and peft are used)
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_path, max_seq_length=config.max_length, dtype=None, load_in_4bit=config.load_in_4bit,
        trust_remote_code=config.trust_remote_code,
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
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=config.trust_remote_code)
    dtype = torch.bfloat16 if config.bf16 else torch.float32
    kwargs = dict(dtype=dtype, attn_implementation="sdpa", use_safetensors=True,
                  trust_remote_code=config.trust_remote_code)
    if config.load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs.update(device_map={"": 0}, quantization_config=BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype))
    elif torch.cuda.is_available():
        kwargs.update(device_map={"": 0})
    model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    if config.load_in_4bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      bias=config.lora_bias, target_modules=config.target_modules, task_type="CAUSAL_LM")
    return get_peft_model(model, lora), _with_pad_token(tokenizer)


def _with_pad_token(tokenizer):
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def resolve_model_path(base_model: str, workspace) -> str:
    """A local folder for `base_model`: the demo (built if needed), a local folder, or a hub id
    downloaded to the Hugging Face cache. Offline with no local copy: a clear UserError."""
    if base_model == "demo":
        from tuning.demo_model import ensure_demo_model

        return str(ensure_demo_model(workspace))
    local = Path(base_model).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise UserError(f"{local} has no config.json: it is not a Hugging Face model folder.",
                            ko=f"{local}에 config.json이 없습니다. Hugging Face 모델 폴더가 아닙니다.")
        return _with_safetensors(local)
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(base_model, allow_patterns=["*.json", "*.safetensors", "tokenizer*", "*.jinja"])
    except Exception as err:  # offline, gated, misspelt: all end the same way for the user
        reason = str(err).splitlines()[0][:300]
        raise UserError(
            f"Could not get the model '{base_model}': {reason}. Without a network, "
            "use 'demo' or a local model folder; with one, check the id and your Hugging Face token.",
            ko=f"모델 '{base_model}'을(를) 가져오지 못했습니다: {reason}. 네트워크가 없으면 'demo'나 로컬 모델 폴더를 "
               "쓰고, 네트워크가 있으면 모델 ID와 Hugging Face 토큰을 확인하세요.",
        ) from err
    return _with_safetensors(Path(folder))


def _with_safetensors(folder: Path) -> str:
    """Weights load from .safetensors only: a pickled .bin or .pt file can run code when loaded."""
    if not any(folder.glob("*.safetensors")):
        raise UserError(f"{folder} has no .safetensors weights. Only safetensors are loaded (pickled .bin/.pt files "
                        "can run code when opened); convert the model, or use a version published as safetensors.",
                        ko=f"{folder}에 .safetensors 가중치가 없습니다. 안전을 위해 safetensors만 불러옵니다(pickle로 된 "
                           ".bin/.pt 파일은 여는 순간 코드를 실행할 수 있습니다). 모델을 변환하거나 safetensors 버전을 쓰세요.")
    return str(folder)
