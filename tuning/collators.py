"""Batches for training. Packed rows get a block-diagonal causal mask so that a conversation's
tokens attend only to earlier tokens of the same conversation."""
from __future__ import annotations

import torch

IGNORE = -100


class PackedBlockCollator:
    """Pads packed rows and builds, per row, a 4D boolean mask (True = may attend) that is causal
    inside each packed conversation and closed between them; positions restart per conversation.

    For transformers' SDPA and eager attention, where restarting position ids alone do not keep
    packed sequences apart.
    """

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, rows: list[dict]) -> dict:
        width = max(len(row["input_ids"]) for row in rows)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        position_ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), 1, width, width), dtype=torch.bool)
        for index, row in enumerate(rows):
            lengths = row.get("seq_lengths") or [len(row["input_ids"])]
            input_ids[index, :len(row["input_ids"])] = torch.tensor(row["input_ids"])
            labels[index, :len(row["labels"])] = torch.tensor(row["labels"])
            start = 0
            for length in lengths:
                end = start + length
                position_ids[index, start:end] = torch.arange(length)
                labels[index, start] = IGNORE  # nothing before a conversation's first token predicts it
                mask[index, 0, start:end, start:end] = torch.ones(length, length, dtype=torch.bool).tril()
                start = end
            # Padding rows attend to themselves only, so no row of the mask is empty (SDPA gives NaN there).
            padding = torch.arange(start, width)
            mask[index, 0, padding, padding] = True
        return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids, "attention_mask": mask}


class TokenCounter:
    """Wraps a collator and counts the real (non-padding) tokens it has batched, for tokens/s."""

    def __init__(self, collator):
        self.collator = collator
        self.real_tokens = 0

    def __call__(self, rows: list[dict]) -> dict:
        self.real_tokens += sum(len(row["input_ids"]) for row in rows)
        return self.collator([{key: row[key] for key in ("input_ids", "labels", "seq_lengths") if key in row}
                              for row in rows])


class SinglesUnpacked:
    """A batch whose rows each hold one conversation goes to `plain` (a padded batch, ordinary causal
    attention); a batch with packed rows goes to `packed`.

    Long conversations fill a row on their own, so packing them changes nothing but the attention
    path: the packed one is slower. Measured on an H200 (torch 2.11, Unsloth, 8B, 8 rows of 1,000+
    tokens): 9,138 tok/s padding-free against 11,298 padded (bench/gpu_training.py sweep); without
    a varlen kernel, Unsloth runs one attention call per distinct length in a packed row. On CPU a
    4D block mask likewise keeps SDPA off its fused causal kernel.
    """

    def __init__(self, packed, plain):
        self.packed, self.plain = packed, plain

    def __call__(self, rows: list[dict]) -> dict:
        if all(len(row.get("seq_lengths") or [None]) == 1 for row in rows):
            return self.plain([{"input_ids": row["input_ids"], "labels": row["labels"]} for row in rows])
        return self.packed(rows)


def make_collator(pad_token_id: int, packing: bool, backend: str) -> TokenCounter:
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    plain = DataCollatorForLanguageModeling(pad_token_id=pad_token_id)
    if packing and backend == "unsloth":
        # Unsloth's attention takes packed sequences apart by their restarting position ids (what
        # TRL's padding-free collator gives it); a 4D mask would be dropped by its fast path.
        packed = DataCollatorForLanguageModeling(pad_token_id=pad_token_id, padding_free=True)
        return TokenCounter(SinglesUnpacked(packed, plain))
    if packing:
        return TokenCounter(SinglesUnpacked(PackedBlockCollator(pad_token_id), plain))
    return TokenCounter(plain)
