"""Name masking: AI Hub's `*` runs and `#@이름#` tags (and real Kakao participant names) become
`<name>`; AI Hub's other de-identification tags become readable placeholders or are dropped."""
from __future__ import annotations

import re
from functools import lru_cache

NAME = "<name>"
# AI Hub tag -> placeholder. Tags not listed here are dropped from the text.
TAG_PLACEHOLDERS = {
    "이름": NAME,
    "주소": "<address>",
    "전화번호": "<phone>",
    "전번": "<phone>",
    "계정": "<account>",
    "아이디": "<account>",
    "이메일": "<email>",
    "메일": "<email>",
    "URL": "<url>",
    "url": "<url>",
    "번호": "<number>",
    "금융": "<number>",
    "카드번호": "<number>",
    "계좌번호": "<number>",
    "신원": "<id>",
    "주민번호": "<id>",
    "소속": "<organization>",
    "회사": "<organization>",
    "학교": "<organization>",
}
# `#@시스템#사진#`: a line that only marks media (photo, video, emoticon) is not speech.
SYSTEM_TAG = re.compile(r"#@시스템#[^#\s]*#")
TAG = re.compile(r"#@([^#\s]{1,20})#")
STAR_RUN = re.compile(r"\*+")
SPACES = re.compile(r"[ \t]{2,}")


def is_system_only(text: str) -> bool:
    """True for a line that holds nothing but AI Hub system/media tags (e.g. `#@시스템#사진#`)."""
    return bool(SYSTEM_TAG.search(text)) and not SYSTEM_TAG.sub("", text).strip()


def mask_text(text: str, names: tuple[str, ...] = ()) -> str:
    text = SYSTEM_TAG.sub("", text)
    text = TAG.sub(lambda m: TAG_PLACEHOLDERS.get(m.group(1), ""), text)
    text = STAR_RUN.sub(NAME, text)
    if names and (pattern := _real_name_pattern(tuple(sorted(names)))):
        text = pattern.sub(NAME, text)
    return SPACES.sub(" ", text).strip()


HANGUL_NAME = re.compile(r"^[가-힣]{3}$")
# A given name alone counts only before a calling or subject ending or at a word's end, so that
# a participant called 이하나 doesn't mask the word 하나도.
GIVEN_NAME_ENDING = r"(?=아|야|씨|님|이가|이는|이랑|이도|이한테|이에게|[\s.,!?~]|$)"


@lru_cache(maxsize=256)
def _real_name_pattern(names: tuple[str, ...]) -> re.Pattern | None:
    """Real participant names (Kakao exports): the full name anywhere, a Korean given name
    (the last two syllables of a three-syllable name) where it is used to address someone."""
    full = [re.escape(name) for name in names if len(name) >= 2]
    given = [re.escape(name[1:]) + GIVEN_NAME_ENDING for name in names if HANGUL_NAME.match(name)]
    alternatives = sorted(full, key=len, reverse=True) + given  # longest first: 김민수 before 민수
    return re.compile("|".join(alternatives)) if alternatives else None
