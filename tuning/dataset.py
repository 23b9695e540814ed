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
            raise UserError(f"{dataset_dir} is not a prepared dataset (no train.jsonl); prepare it in the Dataset tab.")
        return []
    return read_jsonl(path)


def lines_of(example: dict) -> list[Line]:
    return [Line(m["speaker"], m["role"], m["content"]) for m in example["messages"]]


def tokenize_examples(examples: list[dict], tokenizer, max_length: int, loss_on: str) -> tuple[list[dict], int]:
    """`{"input_ids", "labels"}` rows. Rows longer than max_length under this tokenizer (the dataset
    may have been prepared with another) are re-windowed at turn boundaries, never truncated.
    Returns the rows and how many examples had to be re-windowed."""
    rows, rewindowed = [], 0
    for example in examples:
        lines = lines_of(example)
        pieces = [lines]
        if len(training_ids(example["text"], tokenizer)) > max_length:
            rewindowed += 1
            lines, _ = split_long_lines(lines, max_length, tokenizer)
            pieces = windows(lines, max_length, 2, tokenizer)
        rows += [row for piece in pieces if (row := tokenize_lines(piece, tokenizer, loss_on))]
    return rows, rewindowed


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
