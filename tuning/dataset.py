"""From a prepared dataset folder to token ids and labels, then packed rows.

Each example is tokenized line by line so that the loss can skip lines the bot did not say; the
ids are checked against tokenizing the whole text, which is what the Dataset tab showed.
"""
from __future__ import annotations

from pathlib import Path

from core.errors import UserError
from core.fileio import read_jsonl
from data.render import Line
from data.tokens import training_ids
from data.windows import split_long_lines, windows

IGNORE = -100


def load_split(dataset_dir: Path, split: str) -> list[dict]:
    path = Path(dataset_dir) / f"{split}.jsonl"
    if not path.is_file():
        if split == "train":
            raise UserError(f"{dataset_dir} is not a prepared dataset (no train.jsonl); prepare it in the Dataset tab.",
                            ko=f"{dataset_dir}은(는) 준비된 데이터셋이 아닙니다(train.jsonl 없음). "
                               "데이터셋 탭에서 준비하세요.")
        return []
    return read_jsonl(path)


def lines_of(example: dict) -> list[Line]:
    return [Line(m["speaker"], m["role"], m["content"]) for m in example["messages"]]


def tokenize_examples(examples: list[dict], tokenizer, max_length: int, loss_on: str,
                      prompt_format: str = "lines") -> tuple[list[dict], int]:
    """`{"input_ids", "labels"}` rows in the prompt format ("lines": the blog post's `user:`/`bot:`
    text; "chat_template": the tokenizer's chat template). Rows longer than max_length under this
    tokenizer (the dataset may have been prepared with another) are split at turn boundaries,
    never truncated. Returns the rows and how many examples had to be split."""
    tokenize = tokenize_lines if prompt_format == "lines" else tokenize_chat
    if prompt_format == "chat_template" and not tokenizer.chat_template:
        raise UserError("This model's tokenizer has no chat template: use the prompt format 'lines' (the blog post's).",
                        ko="이 모델의 토크나이저에는 채팅 템플릿이 없습니다. "
                           "프롬프트 형식 'lines'(블로그 글의 형식)를 쓰세요.")
    rows, split = [], 0
    for example in examples:
        lines = lines_of(example)
        pieces = [lines]
        row = tokenize(lines, tokenizer, loss_on)
        if row and len(row["input_ids"]) > max_length:
            split += 1
            lines, _ = split_long_lines(lines, max_length - 16, tokenizer)  # room for chat-template headers
            pieces = [part for piece in windows(lines, max_length, 2, tokenizer)
                      for part in _fit(piece, max_length, tokenizer, tokenize)]
        rows += [row for piece in pieces if (row := tokenize(piece, tokenizer, loss_on))]
    return rows, split


def _fit(lines: list[Line], max_length: int, tokenizer, tokenize) -> list[list[Line]]:
    """Halves a window until each part fits: window sizes are counted on plain lines, and a chat
    template adds a few tokens per message."""
    row = tokenize(lines, tokenizer, "all")
    if len(lines) == 1 or row is None or len(row["input_ids"]) <= max_length:
        return [lines]
    middle = len(lines) // 2
    return _fit(lines[:middle], max_length, tokenizer, tokenize) + _fit(lines[middle:], max_length, tokenizer, tokenize)


def tokenize_chat(lines: list[Line], tokenizer, loss_on: str) -> dict | None:
    """Ids and labels through the tokenizer's chat template. Consecutive messages of one role are
    joined; in group chats each user message keeps its speaker label (`user2: …`). Each message's
    tokens are what its prefix adds, so the labels follow the template exactly."""
    messages = chat_messages(lines)
    ids, labels = [], []
    for index, message in enumerate(messages):
        prefix = list(tokenizer.apply_chat_template(messages[:index + 1], tokenize=True, return_dict=False))
        if prefix[:len(ids)] != ids:  # a template that rewrites earlier turns: learn the whole text
            ids = list(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False))
            return None if loss_on == "bot" else {"input_ids": ids, "labels": list(ids)}
        added = prefix[len(ids):]
        learn = loss_on == "all" or message["role"] == "assistant"
        header = _generation_header_length(messages[:index], ids, tokenizer) if learn and loss_on == "bot" else 0
        ids += added
        labels += [IGNORE] * header + added[header:] if learn else [IGNORE] * len(added)
    if all(label == IGNORE for label in labels):
        return None
    return {"input_ids": ids, "labels": labels}


def _generation_header_length(history: list[dict], ids: list[int], tokenizer) -> int:
    """How many tokens the template puts before an assistant reply (`<|start_header_id|>assistant…`):
    the reply is learned, its header is not."""
    if not history:
        return 0
    with_header = list(tokenizer.apply_chat_template(history, tokenize=True, add_generation_prompt=True,
                                                     return_dict=False))
    return len(with_header) - len(ids) if with_header[:len(ids)] == ids else 0


def chat_messages(lines: list[Line]) -> list[dict]:
    users = {line.label for line in lines if line.role == "user"}
    messages: list[dict] = []
    for line in lines:
        content = f"{line.label}: {line.content}" if line.role == "user" and len(users) > 1 else line.content
        if messages and messages[-1]["role"] == line.role:
            messages[-1]["content"] += "\n" + content
        else:
            messages.append({"role": line.role, "content": content})
    return messages


def tokenize_lines(lines: list[Line], tokenizer, loss_on: str) -> dict | None:
    """Ids and labels for `label: content` lines joined by newlines, then the tokenizer's EOS."""
    text = "\n".join(line.render() for line in lines)
    expected = training_ids(text, tokenizer)
    ids, labels = [], []
    prefix = expected[:1] if tokenizer.bos_token_id is not None and expected[0] == tokenizer.bos_token_id else []
    ids += prefix
    labels += [IGNORE] * len(prefix)
    for index, line in enumerate(lines):
        piece = line.render() + ("\n" if index < len(lines) - 1 else "")
        piece_ids = tokenizer(piece, add_special_tokens=False)["input_ids"]
        if index == len(lines) - 1:
            piece_ids = piece_ids + [tokenizer.eos_token_id]
        learn = loss_on == "all" or line.role == "assistant"
        ids += piece_ids
        labels += piece_ids if learn else [IGNORE] * len(piece_ids)
    if ids != expected:
        # A tokenizer that merges across line breaks: fall back to the whole text, every token learned.
        ids, labels = expected, list(expected)
        if loss_on == "bot":
            return None
    if all(label == IGNORE for label in labels):
        return None
    return {"input_ids": ids, "labels": labels}


def to_dataset(rows: list[dict], max_length: int, packing: bool):
    """A `datasets.Dataset`; with packing, rows are filled best-fit-decreasing up to max_length
    (TRL's `pack_dataset`), each keeping the lengths of the conversations inside it."""
    from datasets import Dataset
    from trl.data_utils import pack_dataset

    dataset = Dataset.from_list(rows)
    return pack_dataset(dataset, max_length, strategy="bfd") if packing else dataset
