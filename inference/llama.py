"""llama.cpp through llama-cpp-python, in worker processes (models.llama_process): quantization,
loading GGUF files, and prompt ids as training made them."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from core.errors import UserError
from models import llama_process
from models.llama_process import GgufProcess


def quantize(source: Path, target: Path, kind: str, threads: int = 0) -> None:
    llama_process.quantize(source, target, kind, threads)


def encode(llm: GgufProcess, text: str, contract) -> list[int]:
    """Prompt text as ids, as training made them (`data.chat_format.prompt_encoding`): the model's own
    prefix (BOS, when its vocabulary adds one) before `lines` text; a rendered chat template parsed
    with its special tokens."""
    from data.chat_format import prompt_encoding

    encoding = prompt_encoding(contract)
    ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=encoding.parse_special)
    if encoding.add_prefix and llm.adds_bos:
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
               n_threads: int | None = None, vocab_only: bool = False) -> GgufProcess:
    """The file loaded in a llama.cpp worker (close it with .close()); all layers on the GPU where llama.cpp has CUDA."""
    check_gguf(gguf_path)
    if lora_path is not None:
        check_gguf(lora_path)
    return GgufProcess(Path(gguf_path), n_ctx=n_ctx, logits_all=logits_all, lora_path=lora_path,
                       n_threads=n_threads, vocab_only=vocab_only)


@contextmanager
def load(gguf_path: Path, n_ctx: int = 2048, logits_all: bool = False, lora_path: Path | None = None,
         n_threads: int | None = None, vocab_only: bool = False):
    """open_model() as a context manager: the model is closed on exit."""
    llm = open_model(gguf_path, n_ctx, logits_all, lora_path, n_threads, vocab_only)
    try:
        yield llm
    finally:
        llm.close()


class Tokenizer:
    """A GGUF file's own vocabulary behind the few calls of a Hugging Face tokenizer that
    `data.chat_format` makes, so a GGUF file is scored on the ids its training format gives."""

    def __init__(self, llm: GgufProcess):
        self.llm = llm
        self._adds_bos = llm.adds_bos
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
