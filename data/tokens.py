"""Token counts and training ids: the one place that decides how a rendered text becomes tokens."""
from __future__ import annotations

from core.errors import UserError


def training_ids(text: str, tokenizer) -> list[int]:
    """The ids the trainer sees: the tokenizer's own BOS handling, then the text, then its real EOS id."""
    ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])
    if tokenizer.eos_token_id is None:
        raise UserError("the tokenizer has no end-of-sequence token; choose a tokenizer that defines one",
                        ko="토크나이저에 문장 끝(EOS) 토큰이 없습니다. EOS 토큰이 정의된 토크나이저를 고르세요.")
    if not ids or ids[-1] != tokenizer.eos_token_id:
        ids.append(tokenizer.eos_token_id)
    return ids


def special_overhead(tokenizer) -> int:
    """Tokens added around any text: BOS (if the tokenizer adds one) plus the EOS we append."""
    return len(training_ids("", tokenizer))


def count_tokens(texts: list[str], tokenizer) -> list[int]:
    if not texts:
        return []
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def visible_tokens(text: str, tokenizer) -> str:
    """The text as the trainer sees it, special tokens written out (for the preview)."""
    return tokenizer.decode(training_ids(text, tokenizer), skip_special_tokens=False)
