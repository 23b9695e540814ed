"""How a set of chat replies talks, measured the way a Korean reader notices it: length, speech level
(존댓말 or 반말 sentence endings), laughter and crying marks (ㅋ, ㅎ, ㅠ/ㅜ), emoji, the tilde, questions,
the share of Hangul, word repetition and diversity (distinct-1/2 over words). `style_distance` puts
two sets of replies (a model's, the real person's) at a distance from 0 (alike) to 1."""
from __future__ import annotations

import re
from collections import Counter

from core.artifacts import StyleStats

# A sentence's last word ends politely (존댓말): -요, -세요, -죠, -십시오, …; -니다/-니까 only as
# -ㅂ니다/-습니까 (합니다, 갑니까), not the plain 아니다 or the connective 바쁘니까.
POLITE_ENDING = re.compile(r"(요|세요|셔요|죠|십시오|하오)$")
FORMAL_ENDING = re.compile(r"(.)(니다|니까)$")
# One-word sentences: yes/no answers carry a level of their own; interjections (와!, 음...) say nothing.
POLITE_WORDS = {"네", "넵", "넹", "예", "아뇨", "아니요"}
CASUAL_WORDS = {"응", "웅", "엉", "어", "ㅇㅇ", "그래", "아니", "야"}
INTERJECTIONS = {"와", "우와", "음", "흠", "아", "앗", "오", "오오", "헐", "헉", "엥", "에이", "아하", "어머", "아이고", "오호"}
SENTENCE = re.compile(r"[^.?!~\n…]+")
HANGUL = re.compile(r"[가-힣ㄱ-ㅎㅏ-ㅣ]")
NOT_HANGUL = re.compile(r"[^가-힣ㄱ-ㅎㅏ-ㅣ]")
HANGUL_SYLLABLES_AT_END = re.compile(r"([가-힣]+)[^가-힣]*$")
LAUGHTER = re.compile(r"[ㅋㅎ]")
CRYING = re.compile(r"[ㅠㅜ]")
EMOJI = re.compile("[\U0001F300-\U0001FAFF\U00002600-\U000027BF\U0001F000-\U0001F2FF\u2B50\u2B55]")
LENGTH_BINS = (10, 20, 40, 80)  # characters: up to 10, 20, 40, 80, and longer
# The rates of StyleStats that style_distance compares (beside the length distribution)
RATES = ("polite", "casual", "laughter", "crying", "emoji", "tilde", "question", "hangul", "distinct_1", "distinct_2",
         "repetition", "empty")


def style_of(replies: list[str]) -> StyleStats:
    replies = [reply.strip() for reply in replies]
    count = len(replies) or 1
    levels = [speech_level(reply) for reply in replies]
    words = [reply.split() for reply in replies]
    unigrams = [word for reply_words in words for word in reply_words]
    bigrams = [pair for reply_words in words for pair in zip(reply_words, reply_words[1:])]
    letters = "".join(reply.replace(" ", "").replace("\n", "") for reply in replies)
    return StyleStats(
        replies=len(replies),
        mean_chars=round(sum(len(reply) for reply in replies) / count, 2),
        length_shares=_length_shares(replies),
        polite=_share((level == "polite" for level in levels), count),
        casual=_share((level == "casual" for level in levels), count),
        laughter=_share((LAUGHTER.search(reply) for reply in replies), count),
        crying=_share((CRYING.search(reply) for reply in replies), count),
        emoji=_share((EMOJI.search(reply) for reply in replies), count),
        tilde=_share(("~" in reply for reply in replies), count),
        question=_share(("?" in reply for reply in replies), count),
        hangul=round(len(HANGUL.findall(letters)) / len(letters), 4) if letters else 0.0,
        distinct_1=round(len(set(unigrams)) / len(unigrams), 4) if unigrams else 0.0,
        distinct_2=round(len(set(bigrams)) / len(bigrams), 4) if bigrams else 0.0,
        repetition=_share((repeats_a_word(reply_words) for reply_words in words), count),
        empty=_share((not reply for reply in replies), count),
    )


def speech_level(reply: str) -> str | None:
    """polite when every sentence that ends in Hangul ends politely, casual when none does, mixed
    when both occur; None when no sentence ends in a Hangul word (ㅋㅋ, an emoji, an English word)."""
    endings = []
    for sentence in SENTENCE.findall(reply):
        words = sentence.split()
        word = NOT_HANGUL.sub("", words[0]).strip("ㅋㅎㅠㅜ") if len(words) == 1 else None
        if word in INTERJECTIONS:
            continue
        if word in POLITE_WORDS | CASUAL_WORDS:
            endings.append(word in POLITE_WORDS)
        elif match := HANGUL_SYLLABLES_AT_END.search(sentence.strip()):
            endings.append(_polite(match[1]))
    if not endings:
        return None
    if all(endings):
        return "polite"
    return "casual" if not any(endings) else "mixed"


def _polite(word: str) -> bool:
    if POLITE_ENDING.search(word):
        return True
    formal = FORMAL_ENDING.search(word)
    return bool(formal) and (ord(formal[1]) - 0xAC00) % 28 == 17  # the syllable before ends in ㅂ (합, 습)


def repeats_a_word(words: list[str]) -> bool:
    """The same word twice in a row ("너무 너무"): what a model stuck in a loop writes."""
    return any(first == second for first, second in zip(words, words[1:]))


def style_distance(model: StyleStats, real: StyleStats) -> float:
    """0 (the same style) to 1: the mean of the differences of every rate, with the difference of the
    length distributions (total variation) counting as one rate."""
    differences = [abs(getattr(model, name) - getattr(real, name)) for name in RATES]
    differences.append(sum(abs(a - b) for a, b in zip(model.length_shares, real.length_shares)) / 2)
    return round(sum(differences) / len(differences), 4)


def _length_shares(replies: list[str]) -> list[float]:
    counts = Counter(sum(len(reply) > limit for limit in LENGTH_BINS) for reply in replies)
    return [round(counts[index] / (len(replies) or 1), 4) for index in range(len(LENGTH_BINS) + 1)]


def _share(flags, count: int) -> float:
    return round(sum(1 for flag in flags if flag) / count, 4)
