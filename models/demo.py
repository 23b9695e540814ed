"""The demo base model the project builds itself, offline, so every tab works without a GPU or a
model hub: a byte-level BPE tokenizer trained on the bundled Korean sample with Llama-3's split
regex, special tokens and chat template (so llama.cpp treats it as `llama-bpe`), and a small
Llama (GQA, sizes that are multiples of 256 so k-quants apply) pre-trained briefly on the sample's
utterances as plain Korean text. It has never seen the `user:`/`bot:` format, so fine-tuning on
the sample visibly changes it.

Its corpus, `demo_corpus.json`, is the bundled sample as data preparation renders it, written by
`python -m data.demo_corpus` (a test keeps it in step with the sample).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from core import fileio
from core.workspace import Workspace
from models import gguf
from models.gguf import LLAMA3_SPLIT  # Llama-3's pre-tokenizer split, as in its tokenizer.json

CORPUS = Path(__file__).resolve().with_name("demo_corpus.json")
BUILDER_VERSION = 1
MODEL_VERSION = 1
DEMO_NAME = "demo"
VOCAB_SIZE = 4096
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
    with fileio.atomic_dir(target, replaces=_ours) as tmp:
        build_tokenizer(corpus).save_pretrained(tmp)
        fileio.write_json(tmp / "demo_tokenizer.json", stamp)
    return target


# The architecture and its brief pre-training: about half a minute on 2 CPU cores.
MODEL_SHAPE = dict(hidden_size=256, intermediate_size=768, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2, max_position_embeddings=2048, rms_norm_eps=1e-5, rope_theta=500000.0,
                   tie_word_embeddings=False)
PRETRAIN = dict(steps=170, batch_size=8, block_size=128, learning_rate=5e-3, warmup_steps=10, seed=0)


def ensure_demo_model(workspace: Workspace) -> Path:
    """The demo model folder (tokenizer and weights), built on first use and cached in the workspace."""
    target = ensure_demo_tokenizer(workspace)
    stamp = {"model_version": MODEL_VERSION, "tokenizer": fileio.read_json(target / "demo_tokenizer.json"),
             "shape": MODEL_SHAPE, "pretrain": PRETRAIN}
    if fileio.read_json(target / "demo_model.json") == stamp:
        return target
    from transformers import AutoTokenizer

    print("Building the demo model (once per workspace, about a minute on 2 CPU cores)...", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(target)
    model = pretrain_model(tokenizer, plain_corpus())
    with fileio.atomic_dir(target, replaces=_ours) as tmp:
        tokenizer.save_pretrained(tmp)
        fileio.write_json(tmp / "demo_tokenizer.json", fileio.read_json(target / "demo_tokenizer.json"))
        model.save_pretrained(tmp, safe_serialization=True)
        fileio.write_json(tmp / "demo_model.json", stamp)
    return target


def ensure_demo_gguf(workspace: Workspace) -> Path:
    """The demo base as an f16 GGUF, to chat with before anything is trained: converted by llama.cpp's
    converter on first use (seconds, after the demo model itself) and again when the demo changes."""
    model = ensure_demo_model(workspace)
    target = workspace.demo_gguf
    stamp_path = target.with_suffix(".json")
    stamp = fileio.read_json(model / "demo_model.json")
    if target.is_file() and fileio.read_json(stamp_path) == stamp:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    gguf.convert_file(model, target)
    fileio.write_json(stamp_path, stamp)
    return target


def pretrain_model(tokenizer, corpus: list[str]):
    """A small Llama trained briefly (next-token prediction) on the corpus, deterministic for a seed."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(PRETRAIN["seed"])
    config = LlamaConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **MODEL_SHAPE)
    return pretrain(LlamaForCausalLM(config), tokenizer, corpus, **PRETRAIN)


def pretrain(model, tokenizer, corpus: list[str], steps: int, batch_size: int, block_size: int, learning_rate: float,
             warmup_steps: int, seed: int):
    """Next-token prediction on the corpus, as one stream of texts ended by the end-of-sequence token;
    deterministic for a seed. Any causal LM of transformers: the demo, and the tests' tiny models."""
    import torch

    stream = []
    for text in corpus:
        stream += tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    tokens = torch.tensor(stream)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup_steps)
                                                 * max(0.05, 1 - step / steps))
    model.train()
    for _ in range(steps):
        starts = torch.randint(0, len(tokens) - block_size - 1, (batch_size,), generator=generator)
        rows = torch.stack([tokens[start:start + block_size] for start in starts.tolist()])
        loss = model(input_ids=rows, labels=rows).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    model.eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def plain_corpus() -> list[str]:
    """The sample's conversations as plain Korean text: utterances on their own lines, masked, no labels."""
    return _corpus()["plain_texts"]


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
    """Every utterance of the bundled sample, masked, rendered with its speaker label in both styles."""
    return _corpus()["labelled_lines"]


def _corpus() -> dict:
    return json.loads(CORPUS.read_text(encoding="utf-8"))


def _digest(corpus: list[str]) -> str:
    return hashlib.sha256(json.dumps(corpus, ensure_ascii=False).encode()).hexdigest()


def _ours(folder: Path) -> bool:
    """models/demo is the demo's own folder, rebuilt whenever its recipe changes."""
    return (folder / "demo_tokenizer.json").is_file() or not any(folder.iterdir())
