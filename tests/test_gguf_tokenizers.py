"""Both tokenizers the product meets convert to GGUF and tokenize in llama.cpp exactly as in
Hugging Face: the demo's, and Llama-3's own (rebuilt from llama.cpp's copy of its vocabulary,
since no model hub is reachable here)."""
from __future__ import annotations

import sys

import pytest

from inference import llama
from models.gguf import CONVERTERS
from models.gguf import convert_file
from models.demo import BOS, EOS, LLAMA3_SPLIT

KOREAN = ["user: 안녕하세요! 오늘 점심 뭐 먹을래?\nbot: 나는 김치찌개ㅋㅋ 12시 반에 보자~",
          "user1: <name>아 주말에 뭐 해?\nuser2: 나도 궁금ㅎㅎ\nbot: 등산 가려고 🏔️"]


def llama3_tokenizer():
    """Llama-3's tokenizer (vocabulary, merges, special tokens) from llama.cpp's test vocabulary."""
    sys.path.insert(0, str(CONVERTERS / "gguf-py"))
    import gguf
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    fields = gguf.GGUFReader(CONVERTERS / "models" / "ggml-vocab-llama-bpe.gguf").fields
    tokens, types = fields["tokenizer.ggml.tokens"].contents(), fields["tokenizer.ggml.token_type"].contents()
    merges = [tuple(merge.split(" ")) for merge in fields["tokenizer.ggml.merges"].contents()]
    tokenizer = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, ignore_merges=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False)
                                  for t, kind in zip(tokens, types) if kind == 3])
    tokenizer.post_processor = processors.TemplateProcessing(single=f"{BOS}:0 $A:0",
                                                             special_tokens=[(BOS, tokens.index(BOS))])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS)


def tiny_model_with(tokenizer, folder):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("which", ["llama3", "demo"])
def test_the_tokenizer_converts_and_llama_cpp_tokenizes_like_hugging_face(which, demo_tokenizer, tmp_path):
    tokenizer = llama3_tokenizer() if which == "llama3" else demo_tokenizer
    if which == "llama3":
        assert len(tokenizer) == 128256 and tokenizer.convert_tokens_to_ids("<|eot_id|>") == 128009
    model_dir = tiny_model_with(tokenizer, tmp_path / "model")
    gguf_path = tmp_path / "model-f16.gguf"
    convert_file(model_dir, gguf_path)
    with llama.load(gguf_path, n_ctx=256) as llm:
        assert llm.metadata["tokenizer.ggml.pre"] == "llama-bpe"
        for text in KOREAN:
            assert llm.tokenize(text.encode(), add_bos=True, special=True) == tokenizer(text)["input_ids"]
