"""Packing changes nothing but speed: a packed row's loss equals the token-weighted loss of its
conversations run one by one, and no conversation's tokens attend to another's."""
from __future__ import annotations

import pytest
import torch

from tuning.collators import PackedBlockCollator
from tuning.dataset import load_split, tokenize_examples, to_dataset


@pytest.fixture(scope="module")
def model_and_rows(demo_model_dir, sample_dataset):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(demo_model_dir)
    model = AutoModelForCausalLM.from_pretrained(demo_model_dir, attn_implementation="sdpa", dtype=torch.float32)
    model.eval()
    rows, _ = tokenize_examples(load_split(sample_dataset, "train")[:3], tokenizer, 1024, "bot")
    return model, tokenizer, rows


def chat_messages_of(example):
    from data.chat_format import lines_of, template_messages

    return template_messages(lines_of(example.messages))


def packed_row(rows):
    return {"input_ids": sum((r["input_ids"] for r in rows), []), "labels": sum((r["labels"] for r in rows), []),
            "seq_lengths": [len(r["input_ids"]) for r in rows]}


def test_packed_loss_equals_the_token_weighted_loss_of_separate_runs(model_and_rows):
    model, tokenizer, rows = model_and_rows
    collate = PackedBlockCollator(tokenizer.pad_token_id)
    with torch.no_grad():
        packed_loss = model(**collate([packed_row(rows)])).loss.item()
        total, count = 0.0, 0
        for row in rows:
            ids, labels = torch.tensor([row["input_ids"]]), torch.tensor([row["labels"]])
            n_predicted = int((labels[0, 1:] != -100).sum())
            total += model(input_ids=ids, labels=labels).loss.item() * n_predicted
            count += n_predicted
    assert packed_loss == pytest.approx(total / count, abs=1e-5)


def test_a_conversation_never_attends_to_another_in_its_row(model_and_rows):
    model, tokenizer, rows = model_and_rows
    collate = PackedBlockCollator(tokenizer.pad_token_id)
    first_length = len(rows[0]["input_ids"])
    scrambled = dict(rows[0], input_ids=list(reversed(rows[0]["input_ids"])))
    with torch.no_grad():
        alone = model(input_ids=torch.tensor([rows[1]["input_ids"]])).logits[0]
        packed = model(**{k: v for k, v in collate([packed_row(rows[:2])]).items() if k != "labels"}).logits[0]
        other_first = model(**{k: v for k, v in collate([packed_row([scrambled, rows[1]])]).items()
                               if k != "labels"}).logits[0]
        naive = model(input_ids=torch.tensor([packed_row(rows[:2])["input_ids"]])).logits[0]
    second = slice(first_length, first_length + len(rows[1]["input_ids"]))
    assert torch.allclose(packed[second], alone, atol=1e-4)
    assert torch.allclose(other_first[second], alone, atol=1e-4)
    assert not torch.allclose(naive[second], alone, atol=1e-2)  # without the mask, it would leak


def test_padding_in_a_packed_batch_changes_nothing(model_and_rows):
    model, tokenizer, rows = model_and_rows
    collate = PackedBlockCollator(tokenizer.pad_token_id)
    with torch.no_grad():
        one = model(**collate([packed_row(rows[:1])])).loss.item()
        batch = collate([packed_row(rows[:1]), packed_row(rows)])
        assert batch["input_ids"].shape[1] > len(rows[0]["input_ids"])  # row 0 is padded
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        assert torch.isfinite(logits).all()
        padded_first = model(**collate([packed_row(rows[:1]), packed_row(rows[:1])])).loss.item()
    assert padded_first == pytest.approx(one, abs=1e-5)


def test_bfd_packing_fills_rows_and_keeps_conversation_lengths(model_and_rows):
    _, _, rows = model_and_rows
    packed = to_dataset(rows * 4, max_length=512, packing=True)
    assert len(packed) < len(rows) * 4
    for row in packed:
        assert len(row["input_ids"]) <= 512 and sum(row["seq_lengths"]) == len(row["input_ids"])


def test_bot_only_labels_cover_exactly_the_bot_lines(model_and_rows):
    _, tokenizer, rows = model_and_rows
    row = rows[0]
    learned = tokenizer.decode([t for t, label in zip(row["input_ids"], row["labels"]) if label != -100])
    text = tokenizer.decode(row["input_ids"])
    bot_lines = [line for line in text.replace("<|end_of_text|>", "").split("\n") if line.startswith("bot: ")]
    assert bot_lines and all(line in learned for line in bot_lines)
    assert "user: " not in learned


def test_chat_template_rows_learn_only_the_bots_replies(model_and_rows, sample_dataset):
    _, tokenizer, _ = model_and_rows
    rows, _ = tokenize_examples(load_split(sample_dataset, "train")[:2], tokenizer, 1024, "bot", "chat_template")
    row = rows[0]
    whole = tokenizer.apply_chat_template([dict(m) for m in chat_messages_of(load_split(sample_dataset, "train")[0])],
                                          tokenize=True, return_dict=False)
    assert row["input_ids"] == list(whole)  # what transformers' own chat template gives, token for token
    text = tokenizer.decode(row["input_ids"])
    learned = tokenizer.decode([t for t, label in zip(row["input_ids"], row["labels"]) if label != -100])
    assert text.startswith("<|begin_of_text|><|start_header_id|>user<|end_header_id|>")
    assert "<|start_header_id|>" not in learned and "user" not in learned.split("<|eot_id|>")[0][:6]
    replies = [part.split("<|end_header_id|>\n\n", 1)[1] for part in text.split("<|eot_id|>")
               if "assistant<|end_header_id|>" in part]
    assert replies and learned == "".join(reply + "<|eot_id|>" for reply in replies)


def test_chat_template_rows_longer_than_the_max_length_are_split_not_truncated(model_and_rows, sample_dataset):
    _, tokenizer, _ = model_and_rows
    examples = load_split(sample_dataset, "train")[:5]
    rows, split = tokenize_examples(examples, tokenizer, 96, "bot", "chat_template")
    assert split >= 1 and all(len(row["input_ids"]) <= 96 for row in rows)


def test_rows_of_one_conversation_skip_the_packed_path_with_the_same_loss(model_and_rows):
    from tuning.collators import make_collator

    model, tokenizer, rows = model_and_rows
    collate = make_collator(tokenizer.pad_token_id, packing=True, backend="hf")
    singles = [packed_row([row]) for row in rows]
    plain_batch = collate(singles)
    assert "position_ids" not in plain_batch and plain_batch["attention_mask"].dim() == 2  # ordinary causal batch
    mixed_batch = collate([packed_row(rows[:2]), packed_row(rows[2:])])
    assert mixed_batch["attention_mask"].dim() == 4  # a row with two conversations keeps the block mask
    with torch.no_grad():
        plain_loss = model(**plain_batch).loss.item()
        block_loss = model(**PackedBlockCollator(tokenizer.pad_token_id)(singles)).loss.item()
    assert plain_loss == pytest.approx(block_loss, abs=1e-5)
    assert collate.real_tokens == sum(len(row["input_ids"]) for row in rows) * 2
