"""Style measures of chat replies (data.style): every number below was counted by hand from the replies."""
from __future__ import annotations

import pytest

from core.artifacts import StyleStats
from data.style import LENGTH_BINS, repeats_a_word, speech_level, style_distance, style_of

# Ten replies as friends text them. Lengths: 7, 7, 9, 5, 4, 1, 19, 0, 25, 45 characters (122 in all).
FRIENDS_CHAT = [
    "ㅋㅋㅋ 진짜?",              # casual, laughter, question
    "네 알겠습니다",             # polite
    "오늘 뭐 먹었어?",           # casual, question
    "배고파ㅠㅠ",                # casual, crying
    "좋아요~",                   # polite, tilde
    "😀",                        # no speech level, emoji
    "ok see you tomorrow",       # no speech level, no Hangul
    "",                          # empty
    "너무 너무 맛있었어 ㅎㅎ 다음 주에 또 가자!",  # casual, laughter, "너무 너무"
    "고마워요! 근데 오늘은 회사 일이 너무 많아서 못 갈 것 같아 ㅠ 다음 주에 보자",  # mixed, crying
]

POLITE_AND_LONG = ["네 알겠습니다 내일 회의 자료는 제가 미리 준비해 두겠습니다", "오늘 정말 감사했습니다 조심히 들어가세요"]
CASUAL_LAUGHING = ["ㅋㅋㅋ 진짜?", "ㅎㅎ 알았어"]
CASUAL_LAUGHING_AND_HUNGRY = CASUAL_LAUGHING + ["배고파ㅠㅠ"]


def test_a_friends_chat_is_counted_reply_by_reply():
    style = style_of(FRIENDS_CHAT)
    assert style.replies == 10
    assert style.mean_chars == 12.2
    assert style.length_shares == [0.7, 0.1, 0.1, 0.1, 0.0]  # one reply each of 19, 25 and 45 characters
    assert style.polite == 0.2          # 네 알겠습니다, 좋아요~
    assert style.casual == 0.4          # 진짜?, 먹었어?, 배고파ㅠㅠ, 가자! (고마워요! … 보자 is mixed)
    assert style.laughter == 0.2        # ㅋㅋㅋ, ㅎㅎ
    assert style.crying == 0.2          # ㅠㅠ, ㅠ
    assert style.emoji == 0.1
    assert style.tilde == 0.1
    assert style.question == 0.2
    assert style.hangul == 0.766        # 72/94: 94 non-space characters, 22 of them not Hangul
    assert style.distinct_1 == 0.8919   # 33/37: 37 words; 너무 three times, 다음 and 주에 twice
    assert style.distinct_2 == 0.9643   # 27/28: 28 pairs; "다음 주에" twice
    assert style.repetition == 0.1      # 너무 너무
    assert style.empty == 0.1


def test_replies_fall_into_length_bins_up_to_10_20_40_80_and_longer():
    assert LENGTH_BINS == (10, 20, 40, 80)
    laughs = ["ㅋ" * length for length in (10, 11, 20, 21, 40, 41, 80, 81)]
    assert style_of(laughs).length_shares == [0.125, 0.25, 0.25, 0.25, 0.125]
    assert style_of(["  좋아요~  "]).mean_chars == 4.0  # surrounding spaces do not count


def test_no_replies_give_an_all_zero_style():
    assert style_of([]) == StyleStats(length_shares=[0.0, 0.0, 0.0, 0.0, 0.0])


def test_speech_level_reads_the_sentence_endings():
    for polite in ["네 알겠습니다", "좋아요~", "혹시 시간 괜찮으세요?", "그렇죠 ㅎㅎ", "감사합니다😀", "이거 맞습니까?"]:
        assert speech_level(polite) == "polite", polite
    for casual in ["오늘 뭐 먹었어?", "어디야", "그거 맞지?", "너 밥 먹었냐", "배고파ㅠㅠ", "ㅋㅋㅋ 진짜?"]:
        assert speech_level(casual) == "casual", casual
    assert speech_level("고마워요! 근데 오늘은 못 가") == "mixed"
    assert speech_level("알겠어요. 이따 전화할게") == "mixed"
    for no_level in ["ㅋㅋㅋㅋ", "ㅠㅠ", "😀", "ok see you tomorrow", "", "?!"]:
        assert speech_level(no_level) is None, no_level


def test_speech_level_as_a_korean_reader_hears_it():
    heard = {
        "그니까ㅋㅋ": "casual",           # connective -니까 is not the polite -ㅂ니까
        "일찍 자 내일 바쁘니까": "casual",
        "아 아니다ㅋㅋ": "casual",         # 아니다 is plain speech, not -ㅂ니다
        "아뇨": "polite",                 # short for 아니요
        "네!": "polite",
        "와! 정말요?": "polite",           # an interjection is not a casual sentence
        "음... 글쎄요": "polite",
        "네~ 감사합니다": "polite",
        "좋아": "casual",
        "응!": "casual",
    }
    assert {reply: speech_level(reply) for reply in heard} == heard


def test_a_word_twice_in_a_row_is_a_repetition():
    assert repeats_a_word(["너무", "너무", "맛있었어"])
    assert not repeats_a_word(["너무", "맛있었어", "너무"])
    assert not repeats_a_word(["ㅋㅋ"])
    assert not repeats_a_word([])


def test_style_distance_grows_as_the_styles_part():
    casual = style_of(CASUAL_LAUGHING)
    assert style_distance(casual, casual) == 0.0
    # polite 1, casual 1, laughter 1, question 0.5, hangul 1 - 0.9091, lengths (all ≤40 against all ≤10) 1; over 13
    assert style_distance(style_of(POLITE_AND_LONG), casual) == 0.3531  # 4.5909 / 13
    # laughter 1/3, crying 1/3, question 0.5 - 1/3, hangul 0.9375 - 0.9091; over 13
    assert style_distance(style_of(CASUAL_LAUGHING_AND_HUNGRY), casual) == 0.0663  # 0.8617 / 13


def test_style_distance_is_at_most_one():
    rates = ("polite", "casual", "laughter", "crying", "emoji", "tilde", "question", "hangul", "distinct_1",
             "distinct_2", "repetition", "empty")
    everything = StyleStats(length_shares=[0.0, 0.0, 0.0, 0.0, 1.0], **{rate: 1.0 for rate in rates})
    nothing = StyleStats(length_shares=[1.0, 0.0, 0.0, 0.0, 0.0])
    assert style_distance(everything, nothing) == 1.0
    assert 0.0 <= style_distance(style_of(POLITE_AND_LONG), style_of(FRIENDS_CHAT)) <= 1.0
