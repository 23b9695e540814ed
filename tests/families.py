"""Tiny models of every non-Llama family the app proves (the demo is the Llama one), built here, offline:
a tokenizer trained on the bundled sample the way that family's real tokenizer is made (GPT-NeoX's
byte-level split with polyglot-ko's removed character, EXAONE 4's GPT-2 split and turn tokens,
Qwen2's split and ChatML, Gemma's SentencePiece and turn tokens), a config of that `model_type` with
sizes that k-quants accept, and a brief pre-training on the sample so that quantized files can be
told apart from the model by their answers. About 20 s each on 2 cores."""
from __future__ import annotations

import json
from pathlib import Path

from models.demo import CORPUS, pretrain
from models.gguf import QWEN2_SPLIT

FAMILIES = ("gpt_neox", "exaone4", "qwen2", "gemma3_text")
VOCAB_SIZE = 3072
SHAPE = dict(hidden_size=256, intermediate_size=768, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=2048)
PRETRAIN = dict(steps=140, batch_size=8, block_size=128, learning_rate=5e-3, warmup_steps=10, seed=0)

CHATML = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
EXAONE_TEMPLATE = ("{% for m in messages %}{{ '[|' + m['role'] + '|]' + m['content'] + '[|endofturn|]\\n' }}{% endfor %}"
                   "{% if add_generation_prompt %}{{ '[|assistant|]' }}{% endif %}")
GEMMA_TEMPLATE = ("{{ bos_token }}{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
                  "{{ '<start_of_turn>' + role + '\\n' + m['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
                  "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}")


def corpus() -> dict:
    return json.loads(CORPUS.read_text(encoding="utf-8"))


def build(family: str, folder: Path, pretrained: bool = True, shard_size: str | None = None, **sizes) -> Path:
    """A tiny `family` model with its tokenizer in `folder` (safetensors, as the app requires); `sizes`
    replace SHAPE's (a larger one, in shards, for the download tests, which need no pre-training)."""
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = TOKENIZERS[family](folder)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(CONFIGS[family](tokenizer, **sizes))
    if pretrained:
        pretrain(model, tokenizer, corpus()["plain_texts"], **PRETRAIN)
    model.save_pretrained(folder, safe_serialization=True, **({"max_shard_size": shard_size} if shard_size else {}))
    tokenizer.save_pretrained(folder)
    return folder


def _bpe(pre_tokenizer, special_tokens: list[str], add_bos: str | None = None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=special_tokens, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    sample = corpus()
    tokenizer.train_from_iterator(sample["labelled_lines"] + sample["plain_texts"], trainer)
    if add_bos:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{add_bos}:0 $A:0", pair=f"{add_bos}:0 $A:0 {add_bos}:1 $B:1",
            special_tokens=[(add_bos, tokenizer.token_to_id(add_bos))])
    return tokenizer


def _fast(tokenizer_object, **tokens):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tokenizer_object, model_max_length=2048,
                                   clean_up_tokenization_spaces=False, **tokens)


def polyglot_tokenizer(folder: Path):
    """Like polyglot-ko's: one literal character removed, then GPT-2's byte-level split; no BOS added,
    no chat template (prompt format 'lines' only)."""
    from tokenizers import pre_tokenizers

    split = pre_tokenizers.Sequence([pre_tokenizers.Split("ೱ", behavior="removed"),
                                     pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    return _fast(_bpe(split, ["<|endoftext|>", "<|padding|>"]), bos_token="<|endoftext|>",
                 eos_token="<|endoftext|>", pad_token="<|padding|>")


def exaone_tokenizer(folder: Path):
    """GPT-2's byte-level split (llama.cpp's `exaone4` is the same), EXAONE's role and turn tokens."""
    from tokenizers import pre_tokenizers

    specials = ["[PAD]", "[BOS]", "[|endofturn|]", "[|system|]", "[|user|]", "[|assistant|]"]
    return _fast(_bpe(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True), specials), bos_token="[BOS]",
                 eos_token="[|endofturn|]", pad_token="[PAD]", chat_template=EXAONE_TEMPLATE)


def qwen_tokenizer(folder: Path):
    """Qwen2's split (digits one by one), ChatML; no BOS."""
    from tokenizers import Regex, pre_tokenizers

    split = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
                                     pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    return _fast(_bpe(split, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]), eos_token="<|im_end|>",
                 pad_token="<|endoftext|>", chat_template=CHATML)


def gemma_tokenizer(folder: Path):
    """A SentencePiece model as Gemma's (byte fallback, digits split, no dummy prefix, turn tokens),
    saved as tokenizer.model, which llama.cpp's Gemma converter reads; transformers reads it too."""
    import sentencepiece
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    text_file = folder / "corpus.txt"
    sample = corpus()
    text_file.write_text("\n".join(sample["labelled_lines"] + sample["plain_texts"]), encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(
        input=str(text_file), model_prefix=str(folder / "tokenizer"), vocab_size=VOCAB_SIZE, model_type="bpe",
        byte_fallback=True, split_digits=True, add_dummy_prefix=False, normalization_rule_name="identity",
        remove_extra_whitespaces=False, allow_whitespace_only_pieces=True, character_coverage=1.0,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
        unk_piece="<unk>", user_defined_symbols=["<start_of_turn>", "<end_of_turn>"], minloglevel=2)
    text_file.unlink()
    (folder / "tokenizer.vocab").unlink()
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "GemmaTokenizer", "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>",
        "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False, "chat_template": GEMMA_TEMPLATE}))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    # As Gemma's tokenizer_config declares them: special (llama.cpp then parses them in a rendered template)
    tokenizer.add_tokens([AddedToken(token, special=True, normalized=False)
                          for token in ("<start_of_turn>", "<end_of_turn>")], special_tokens=True)
    return tokenizer


def _ids(tokenizer) -> dict:
    return {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id, "vocab_size": len(tokenizer)}


def neox_config(tokenizer, **sizes):
    from transformers import GPTNeoXConfig

    shape = {key: value for key, value in SHAPE.items() if key != "num_key_value_heads"}
    return GPTNeoXConfig(**{**shape, "intermediate_size": 1024, **sizes}, rotary_pct=0.5, use_parallel_residual=True,
                         tie_word_embeddings=False, **_ids(tokenizer))


def exaone_config(tokenizer, **sizes):
    from transformers import Exaone4Config

    return Exaone4Config(**{**SHAPE, **sizes}, tie_word_embeddings=True, **_ids(tokenizer))


def qwen_config(tokenizer, **sizes):
    from transformers import Qwen2Config

    return Qwen2Config(**{**SHAPE, **sizes}, tie_word_embeddings=True, **_ids(tokenizer))


def gemma_config(tokenizer, **sizes):
    from transformers import Gemma3TextConfig

    # query_pre_attn_scalar = head_dim, as in Gemma 3 1B (256 and 256): llama.cpp scales attention by the head size
    return Gemma3TextConfig(**{**SHAPE, **sizes}, head_dim=64, query_pre_attn_scalar=64, sliding_window=512,
                            **_ids(tokenizer))


TOKENIZERS = {"gpt_neox": polyglot_tokenizer, "exaone4": exaone_tokenizer, "qwen2": qwen_tokenizer,
              "gemma3_text": gemma_tokenizer}
CONFIGS = {"gpt_neox": neox_config, "exaone4": exaone_config, "qwen2": qwen_config, "gemma3_text": gemma_config}
