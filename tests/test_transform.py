"""Transformations: speaker styles, name masking, windowing, dropping, the EOS token, the split."""
from __future__ import annotations

import json

import pytest

from data.masking import mask_text
from data.prepare import PrepareConfig, prepare
from data.chat_format import training_ids
from tests.conftest import SAMPLES, write_aihub

THREE_SPEAKERS = [(1, "***아 뭐해?"), (2, "나 밥 먹는 중"), (3, "나도 배고파"), (2, "같이 먹을래?"), (1, "좋아")]


def prepared_from(tmp_path, lines_by_file, tokenizer, **options):
    for index, lines in enumerate(lines_by_file):
        write_aihub(tmp_path / f"c{index:03d}.json", lines)
    config = PrepareConfig(inputs=[str(tmp_path)], val_ratio=0.0, **options)
    return prepare(config, tokenizer)


def test_the_seeds_example_renders_exactly_as_in_the_blog(tmp_path, demo_tokenizer):
    prepared = prepared_from(tmp_path, [THREE_SPEAKERS], demo_tokenizer, speakers="blog", mask_names=False)
    [example] = prepared.train
    assert example["text"] == "user: ***아 뭐해?\nbot: 나 밥 먹는 중\nuser: 나도 배고파\nbot: 같이 먹을래?\nuser: 좋아"


def test_three_speakers_become_user1_user2_bot(tmp_path, demo_tokenizer):
    prepared = prepared_from(tmp_path, [THREE_SPEAKERS], demo_tokenizer, speakers="numbered")
    [example] = prepared.train
    assert example["text"] == "user1: <name>아 뭐해?\nbot: 나 밥 먹는 중\nuser2: 나도 배고파\nbot: 같이 먹을래?\nuser1: 좋아"
    assert [m["role"] for m in example["messages"]] == ["user", "assistant", "user", "assistant", "user"]
    assert [m["speaker"] for m in example["messages"]] == ["user1", "bot", "user2", "bot", "user1"]


def test_the_bot_can_be_another_speaker(tmp_path, demo_tokenizer):
    prepared = prepared_from(tmp_path, [THREE_SPEAKERS], demo_tokenizer, speakers="numbered", bot="1번")
    assert prepared.train[0]["text"].splitlines()[0] == "bot: <name>아 뭐해?"
    assert prepared.train[0]["text"].splitlines()[1] == "user1: 나 밥 먹는 중"


@pytest.mark.parametrize("raw, masked", [
    ("***아 뭐해?", "<name>아 뭐해?"),
    ("** 씨가 그러던데", "<name> 씨가 그러던데"),
    ("#@이름#한테 물어봐", "<name>한테 물어봐"),
    ("주소는 #@주소# 이고 번호는 #@전화번호#", "주소는 <address> 이고 번호는 <phone>"),
    ("이건 #@알수없음# 태그", "이건 태그"),
])
def test_masks_become_readable_placeholders(raw, masked):
    assert mask_text(raw) == masked


def test_real_kakao_names_are_masked_but_not_lookalike_words():
    names = ("김민수", "이하나")
    assert mask_text("김민수 왔어? 민수야 빨리 와", names) == "<name> 왔어? <name>야 빨리 와"
    assert mask_text("하나도 안 힘들어", names) == "하나도 안 힘들어"


def test_no_raw_mask_characters_reach_the_bundled_samples_training_text(demo_tokenizer):
    config = PrepareConfig(inputs=[str(SAMPLES)], val_ratio=0.1)
    prepared = prepare(config, demo_tokenizer)
    for example in prepared.examples:
        assert "*" not in example["text"] and "#@" not in example["text"], example["text"]
    assert any("<name>" in example["text"] for example in prepared.examples)
    assert any("<address>" in example["text"] for example in prepared.examples)


def test_system_only_lines_are_not_speech(tmp_path, demo_tokenizer):
    lines = [(1, "사진 보낼게"), (1, "#@시스템#사진#"), (2, "오 예쁘다")]
    prepared = prepared_from(tmp_path, [lines], demo_tokenizer)
    assert prepared.train[0]["text"] == "user: 사진 보낼게\nbot: 오 예쁘다"


def test_empty_and_one_speaker_conversations_are_dropped_and_counted(tmp_path, demo_tokenizer):
    prepared = prepared_from(tmp_path, [THREE_SPEAKERS, [(1, "혼잣말"), (1, "또 혼잣말")], [(1, "#@시스템#사진#")],
                                        [(1, "안녕"), (3, "안녕")]], demo_tokenizer)
    assert len(prepared.train) == 1
    assert prepared.report.dropped == {"only one speaker": 1, "empty": 1, "the bot speaker '2' never speaks": 1}
    assert prepared.stats["conversations_dropped"] == 3


def test_long_conversations_become_overlapping_windows_at_turn_boundaries(tmp_path, demo_tokenizer):
    lines = [(1 + i % 2, f"{i}번째 메시지입니다 오늘 날씨가 정말 좋네요 산책 갈래요?") for i in range(60)]
    prepared = prepared_from(tmp_path, [lines], demo_tokenizer, max_length=128, overlap_turns=2)
    windows = prepared.train
    assert len(windows) > 3 and prepared.stats["conversations_windowed"] == 1
    for example in windows:
        assert len(training_ids(example["text"], demo_tokenizer)) <= 128
        assert example["num_tokens"] <= 128
    contents = [[m["content"] for m in example["messages"]] for example in windows]
    for before, after in zip(contents, contents[1:]):
        assert before[-2:] == after[:2]  # two turns of overlap
    covered = {content for window in contents for content in window}
    assert covered == {text for _, text in lines}  # nothing lost
    assert [example["window"] for example in windows] == [[i + 1, len(windows)] for i in range(len(windows))]


def test_a_single_message_longer_than_the_max_length_is_cut_not_truncated(tmp_path, demo_tokenizer):
    long_text = "아주 긴 메시지 " * 200
    prepared = prepared_from(tmp_path, [[(1, "안녕"), (2, long_text)]], demo_tokenizer, max_length=64, overlap_turns=0)
    assert all(example["num_tokens"] <= 64 for example in prepared.train)
    joined = "".join(m["content"] for e in prepared.train for m in e["messages"] if m["role"] == "assistant")
    assert joined.replace(" ", "") == long_text.replace(" ", "")
    assert any("cut into pieces" in note for note in prepared.report.notes)


def test_each_example_ends_with_the_tokenizers_real_end_of_sequence_token(tmp_path, demo_tokenizer):
    prepared = prepared_from(tmp_path, [THREE_SPEAKERS], demo_tokenizer)
    text = prepared.train[0]["text"]
    ids = training_ids(text, demo_tokenizer)
    assert ids[-1] == demo_tokenizer.eos_token_id
    assert demo_tokenizer.convert_ids_to_tokens(ids[-1]) == "<|end_of_text|>"
    assert "<|endoftext|>" not in text and ids.count(demo_tokenizer.eos_token_id) == 1


def test_the_split_is_deterministic_and_keeps_windows_of_one_conversation_together(tmp_path, demo_tokenizer):
    long_lines = [(1 + i % 2, f"{i} 긴 대화의 한 줄입니다 계속 이어집니다") for i in range(40)]
    for index in range(30):
        write_aihub(tmp_path / f"c{index:03d}.json", long_lines if index == 0 else [(1, f"질문 {index}"), (2, f"답 {index}")])

    def split(seed):
        config = PrepareConfig(inputs=[str(tmp_path)], val_ratio=0.2, seed=seed, max_length=96)
        prepared = prepare(config, demo_tokenizer)
        return [e["text"] for e in prepared.train], [e["text"] for e in prepared.val], prepared

    train_a, val_a, prepared = split(7)
    train_b, val_b, _ = split(7)
    assert (train_a, val_a) == (train_b, val_b)
    assert split(8)[1] != val_a
    assert prepared.stats["val_examples"] >= 6
    window_sources = {e["source"]: set() for e in prepared.examples if e["window"]}
    for name, examples in (("train", prepared.train), ("val", prepared.val)):
        for e in examples:
            if e["window"]:
                window_sources[e["source"]].add(name)
    assert all(len(splits) == 1 for splits in window_sources.values())


def test_examples_are_json_lines_with_messages_and_text(tmp_path, demo_tokenizer):
    prepared = prepared_from(tmp_path, [THREE_SPEAKERS], demo_tokenizer)
    row = json.loads(json.dumps(prepared.train[0], ensure_ascii=False))
    assert set(row) >= {"messages", "text", "source", "num_tokens"}
    assert set(row["messages"][0]) == {"role", "speaker", "content"}


def test_the_demo_models_corpus_is_the_bundled_sample_as_preparation_renders_it():
    """models/ sits below data/ and reads its corpus from a file; that file must be what data/ makes
    of the sample today (rewrite it with `python -m data.demo_corpus`)."""
    from data.demo_corpus import corpus_text, render_corpus
    from models.demo import CORPUS

    assert CORPUS.read_text(encoding="utf-8") == corpus_text(render_corpus())
