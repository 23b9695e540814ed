"""The demo base model the project builds itself, offline, so every tab works without a GPU or a
model hub. This module builds its tokenizer: a byte-level BPE trained on the bundled Korean sample
with Llama-3's split regex, special tokens and chat template (so llama.cpp treats it as `llama-bpe`).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from core import fileio
from core.workspace import Workspace
from data.bundled import SAMPLE_DIR

BUILDER_VERSION = 1
DEMO_NAME = "demo"
VOCAB_SIZE = 4096
# Llama-3's pre-tokenizer split, as in its tokenizer.json.
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
BOS, EOS, PAD = "<|begin_of_text|>", "<|end_of_text|>", "<|finetune_right_pad_id|>"
SPECIAL_TOKENS = [BOS, EOS, "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", PAD]
# Llama-3's own template: header-wrapped roles, <|eot_id|> after each message.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)


def demo_dir(workspace: Workspace) -> Path:
    return workspace.models / DEMO_NAME


def ensure_demo_tokenizer(workspace: Workspace) -> Path:
    """The demo model folder with its tokenizer, built on first use (a few seconds) and cached."""
    target = demo_dir(workspace)
    corpus = sample_corpus()
    stamp = {"builder_version": BUILDER_VERSION, "corpus_sha256": _digest(corpus)}
    if fileio.read_json(target / "demo_tokenizer.json") == stamp:
        return target
    with fileio.atomic_dir(target) as tmp:
        build_tokenizer(corpus).save_pretrained(tmp)
        fileio.write_json(tmp / "demo_tokenizer.json", stamp)
    return target


def build_tokenizer(corpus: list[str]):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIAL_TOKENS, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(corpus, trainer)
    bos_id = tokenizer.token_to_id(BOS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS}:0 $A:0", pair=f"{BOS}:0 $A:0 {BOS}:1 $B:1", special_tokens=[(BOS, bos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD,
        chat_template=CHAT_TEMPLATE, model_max_length=8192, clean_up_tokenization_spaces=False,
    )


def sample_corpus() -> list[str]:
    """Every utterance of the bundled sample, masked, plus the rendered speaker labels."""
    from data.prepare import PrepareConfig, _label, _read_all
    from data.report import Report

    texts = []
    for style in ("blog", "numbered"):
        config = PrepareConfig(inputs=[str(SAMPLE_DIR)], speakers=style)
        report = Report()
        for conversation in _read_all(config, report):
            lines = _label(conversation, config, report) or []
            texts.extend(line.render() for line in lines)
    return texts


def _digest(corpus: list[str]) -> str:
    return hashlib.sha256(json.dumps(corpus, ensure_ascii=False).encode()).hexdigest()
