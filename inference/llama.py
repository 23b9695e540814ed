"""llama.cpp through llama-cpp-python: quiet logging, quantization, and loading GGUF files."""
from __future__ import annotations

import ctypes
from contextlib import contextmanager
from pathlib import Path

from core.errors import UserError
from models.gguf import import_llama_cpp, silence_logs

# ftype of each GGUF kind this project writes; k-quants need rows that are multiples of 256.
FTYPES = {"f16": "LLAMA_FTYPE_MOSTLY_F16", "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0", "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
          "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M", "q6_k": "LLAMA_FTYPE_MOSTLY_Q6_K"}
def quantize(source: Path, target: Path, kind: str, threads: int = 0) -> None:
    llama_cpp = import_llama_cpp()

    silence_logs()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, FTYPES[kind])
    params.nthread = threads
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
    if status != 0:
        raise UserError(f"llama.cpp could not quantize {source.name} to {kind} (status {status}).",
                        ko=f"llama.cpp가 {source.name}을(를) {kind}(으)로 양자화하지 못했습니다 (상태 {status}).")


def encode(llm, text: str, contract) -> list[int]:
    """Prompt text as ids, as training made them (`data.chat_format.prompt_encoding`): the model's own
    prefix (BOS, when its vocabulary adds one) before `lines` text; a rendered chat template parsed
    with its special tokens."""
    llama_cpp = import_llama_cpp()

    from data.chat_format import prompt_encoding

    encoding = prompt_encoding(contract)
    ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=encoding.parse_special)
    if encoding.add_prefix and llama_cpp.llama_vocab_get_add_bos(llm._model.vocab):
        ids = [llm.token_bos()] + ids
    return ids


GGUF_MAGIC = b"GGUF"


def check_gguf(gguf_path: Path) -> Path:
    """A clear message for a path that is missing or is not a GGUF file at all."""
    path = Path(gguf_path)
    if not path.is_file():
        raise UserError(f"No GGUF file at {path}.", ko=f"{path}에 GGUF 파일이 없습니다.")
    with path.open("rb") as head:
        if head.read(4) != GGUF_MAGIC:
            raise UserError(f"{path.name} is not a GGUF file (it does not start with the GGUF signature).",
                            ko=f"{path.name}은(는) GGUF 파일이 아닙니다 (GGUF 시그니처로 시작하지 않습니다).")
    return path


def open_model(gguf_path: Path, n_ctx: int = 2048, logits_all: bool = False, lora_path: Path | None = None,
               n_threads: int | None = None, vocab_only: bool = False):
    """A llama_cpp.Llama for the file (close it with .close()); all layers on the GPU where llama.cpp has CUDA."""
    llama_cpp = import_llama_cpp()

    silence_logs()
    check_gguf(gguf_path)
    if lora_path is not None:
        check_gguf(lora_path)
    try:
        return llama_cpp.Llama(str(gguf_path), n_ctx=n_ctx, logits_all=logits_all, verbose=False, n_gpu_layers=-1,
                               lora_path=str(lora_path) if lora_path else None, n_threads=n_threads,
                               vocab_only=vocab_only)
    except (ValueError, RuntimeError) as err:
        name, lora_name = Path(gguf_path).name, Path(lora_path).name if lora_path else None
        raise UserError(f"llama.cpp could not load {name}{' with ' + lora_name if lora_name else ''}: "
                        f"is it a complete GGUF file? ({err})",
                        ko=f"llama.cpp가 {name}{f'(LoRA {lora_name} 적용)' if lora_name else ''}을(를) 불러오지 "
                           f"못했습니다. 완전한 GGUF 파일인지 확인하세요. ({err})") from err


@contextmanager
def load(gguf_path: Path, n_ctx: int = 2048, logits_all: bool = False, lora_path: Path | None = None,
         n_threads: int | None = None):
    """open_model() as a context manager: the model is closed on exit."""
    llm = open_model(gguf_path, n_ctx, logits_all, lora_path, n_threads)
    try:
        yield llm
    finally:
        llm.close()


class Tokenizer:
    """A GGUF file's own vocabulary behind the few calls of a Hugging Face tokenizer that
    `data.chat_format` makes, so a GGUF file is scored on the ids its training format gives."""

    def __init__(self, llm):
        llama_cpp = import_llama_cpp()

        self.llm = llm
        self._adds_bos = bool(llama_cpp.llama_vocab_get_add_bos(llm._model.vocab))
        self.eos_token_id = llm.token_eos()
        self.bos_token_id = llm.token_bos()
        self.eos_token = self.piece(self.eos_token_id)
        self.bos_token = self.piece(self.bos_token_id) if self.bos_token_id >= 0 else ""
        self.chat_template = llm.metadata.get("tokenizer.chat_template")

    def piece(self, token: int) -> str:
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def __call__(self, text, add_special_tokens: bool = True, split_special_tokens: bool = False) -> dict:
        def ids(one: str) -> list[int]:
            return self.llm.tokenize(one.encode("utf-8"), add_bos=add_special_tokens and self._adds_bos,
                                     special=not split_special_tokens)

        return {"input_ids": [ids(one) for one in text] if isinstance(text, list) else ids(text)}
