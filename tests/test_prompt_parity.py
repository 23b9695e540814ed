"""The prompt contract, proven: for every prompt format and speaker style, the token ids a model was
trained on for a conversation are, up to each bot turn, exactly the ids each chat engine sends for the
same history (llama.cpp on the exported GGUF, and transformers for a run not yet exported); and the
bot's reply ends where training ended it."""
from __future__ import annotations

import pytest

from core.artifacts import PromptContract
from data.chat_format import (BOT_LABEL, ChatTemplate, Line, contract_for, encode_for_training, history_lines,
                              prompt_text, reply_of, speaker_labels)
from inference.chat import ChatModelSpec, GgufModel, HfModel, gguf_spec
from tuning.dataset import load_split


def two_party_conversations(dataset_dir, contract: PromptContract, count: int = 12) -> list[list[Line]]:
    """Sample conversations as a one-user chat sees them: every user line under the contract's label."""
    conversations = []
    for example in load_split(dataset_dir, "train"):
        if len({m.speaker for m in example.messages if m.role == "user"}) == 1:
            conversations.append([Line(BOT_LABEL if m.role == "assistant" else contract.user_label, m.role, m.content)
                                  for m in example.messages])
    return conversations[:count]


def bot_turns(lines: list[Line]):
    """Each point where the bot starts answering: (history before it, the bot's lines of that turn)."""
    for index, line in enumerate(lines):
        if line.role == "assistant" and index > 0 and lines[index - 1].role == "user":
            end = index
            while end < len(lines) and lines[end].role == "assistant":
                end += 1
            yield lines[:index], lines[index:end]


def as_chat(lines: list[Line]) -> list[dict]:
    return [{"role": line.role, "content": line.content} for line in lines]


@pytest.fixture(scope="module")
def engines(chat_export, demo_model_dir):
    """Both engines on the same weights: the exported f16 GGUF and the merged model in transformers."""
    gguf = GgufModel(gguf_spec(chat_export / "model-f16.gguf"), 4096, None, 0)
    hf = HfModel(ChatModelSpec(id="merged", label="merged", kind="hf", base_path=str(chat_export / "merged")),
                 4096, None, 0)
    yield {"llama.cpp": gguf, "transformers": hf}
    gguf.close()


@pytest.mark.parametrize("prompt_format", ["lines", "chat_template"])
@pytest.mark.parametrize("speakers", ["blog", "numbered"])
def test_training_ids_equal_the_ids_chat_sends_for_the_same_history(engines, demo_tokenizer, sample_dataset,
                                                                    prompt_format, speakers):
    contract = contract_for(demo_tokenizer, prompt_format, speakers)
    template = ChatTemplate.of_tokenizer(demo_tokenizer)
    checked = 0
    for conversation in two_party_conversations(sample_dataset, contract):
        for history, bot_lines in bot_turns(conversation):
            trained = encode_for_training(history + bot_lines, demo_tokenizer, prompt_format, "bot")["input_ids"]
            for name, engine in engines.items():
                engine.spec = engine.spec.model_copy(update={"prompt": contract})
                engine_template = engine.template if prompt_format == "chat_template" else None
                prompt = prompt_text(history_lines(as_chat(history), contract), contract, engine_template)
                assert prompt == prompt_text(history, contract, template), name  # the GGUF's template is the same
                sent = engine.tokenize(prompt)
                assert trained[:len(sent)] == sent, (name, prompt)
                assert len(trained) > len(sent)  # and what follows is the bot's reply
            checked += 1
    assert checked >= 12


@pytest.mark.parametrize("prompt_format", ["lines", "chat_template"])
def test_the_reply_is_cut_where_training_ended_the_bots_turn(demo_tokenizer, prompt_format):
    contract = contract_for(demo_tokenizer, prompt_format, "blog")
    lines = [Line("user", "user", "주말에 뭐해?"), Line("bot", "assistant", "집에서 쉬려고"),
             Line("bot", "assistant", "너는?")]
    trained = encode_for_training(lines, demo_tokenizer, prompt_format, "bot")
    sent = len(demo_tokenizer(prompt_text(lines[:1], contract, ChatTemplate.of_tokenizer(demo_tokenizer)),
                              add_special_tokens=False)["input_ids"])
    raw = demo_tokenizer.decode(trained["input_ids"][sent + (1 if prompt_format == "lines" else 0):])
    assert reply_of(raw + "\nuser: 나도", contract) == "집에서 쉬려고\n너는?"


def test_the_contract_comes_from_the_tokenizer_not_from_a_list_of_llama3_tokens(demo_tokenizer):
    assert contract_for(demo_tokenizer, "lines", "blog").stop == ["\nuser", demo_tokenizer.eos_token]
    template = contract_for(demo_tokenizer, "chat_template", "numbered")
    assert template.end_tokens == ["<|eot_id|>", demo_tokenizer.eos_token] and template.user_label == "user1"
    assert speaker_labels(["1", "2", "3"], "2", "numbered") == {"2": "bot", "1": "user1", "3": "user2"}
