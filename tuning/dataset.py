"""From a prepared dataset folder to training rows: each conversation encoded in the prompt format
(`data.chat_format`), re-windowed where this tokenizer makes it longer than max_length, then packed."""
from __future__ import annotations

from pathlib import Path

from core import artifacts
from core.artifacts import DatasetExample
from core.errors import UserError
from core.workspace import DatasetPaths
from data.chat_format import Line, encode_for_training, lines_of
from data.windows import split_long_lines, windows


def load_split(dataset_dir: Path, split: str) -> list[DatasetExample]:
    """train or val rows; UnreadableFile (naming the file and line) for a row that is not an example."""
    path = DatasetPaths(Path(dataset_dir)).split(split)
    if not path.is_file():
        if split == "train":
            raise UserError(f"{dataset_dir} is not a prepared dataset (no train.jsonl); prepare it in the Dataset tab.",
                            ko=f"{dataset_dir}은(는) 준비된 데이터셋이 아닙니다(train.jsonl 없음). "
                               "데이터셋 탭에서 준비하세요.")
        return []
    return artifacts.read_rows(path, DatasetExample)


def tokenize_examples(examples: list[DatasetExample], tokenizer, max_length: int, loss_on: str,
                      prompt_format: str = "lines") -> tuple[list[dict], int]:
    """`{"input_ids", "labels"}` rows in the prompt format. Rows longer than max_length under this
    tokenizer (the dataset may have been prepared with another) are split at turn boundaries, never
    truncated. Returns the rows and how many examples had to be split."""
    def encode(lines: list[Line], loss: str = loss_on) -> dict | None:
        return encode_for_training(lines, tokenizer, prompt_format, loss)

    rows, split = [], 0
    for example in examples:
        lines = lines_of(example.messages)
        pieces = [lines]
        row = encode(lines)
        if row and len(row["input_ids"]) > max_length:
            split += 1
            lines, _ = split_long_lines(lines, max_length - 16, tokenizer)  # room for chat-template headers
            pieces = [part for piece in windows(lines, max_length, 2, tokenizer)
                      for part in _fit(piece, max_length, encode)]
        rows += [row for piece in pieces if (row := encode(piece))]
    return rows, split


def _fit(lines: list[Line], max_length: int, encode) -> list[list[Line]]:
    """Halves a window until each part fits: window sizes are counted on plain lines, and a chat
    template adds a few tokens per message."""
    row = encode(lines, "all")
    if len(lines) == 1 or row is None or len(row["input_ids"]) <= max_length:
        return [lines]
    middle = len(lines) // 2
    return _fit(lines[:middle], max_length, encode) + _fit(lines[middle:], max_length, encode)


def to_dataset(rows: list[dict], max_length: int, packing: bool):
    """A `datasets.Dataset`; with packing, rows are filled best-fit-decreasing up to max_length
    (TRL's `pack_dataset`), each keeping the lengths of the conversations inside it."""
    from datasets import Dataset
    from trl.data_utils import pack_dataset

    dataset = Dataset.from_list(rows)
    return pack_dataset(dataset, max_length, strategy="bfd") if packing else dataset
