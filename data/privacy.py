"""Personal information in chat text, found and masked before anything is trained on it.

Numbers, emails, links, addresses and plates are found by ko-pii (rule-based, with the checksums of
registration and card numbers, offline, MIT), plus patterns for what it was measured to miss in chat
(bench/pii_detection.py): URLs without a scheme, lot-number addresses and apartment units, the old
regional car plates. Other people's names are found only where chat marks them as names (a title
after a full name, a label before one); the chat's own participants are masked by data/masking.py.
Each finding becomes its kind's placeholder (core.artifacts.PII_PLACEHOLDERS)."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.artifacts import PII_KINDS, PII_PLACEHOLDERS

# ko-pii's PERSON is left out: on the bundled chat sample it took one line in a hundred, all of them
# ordinary words (원두, 운동화, 서술형), even at its highest confidences (bench/pii_detection.py).
KO_PII_KINDS = {"PHONE": "phone", "FAX": "phone", "RRN": "rrn", "FRN": "rrn", "CARD": "card", "ACCOUNT": "account",
                "EMAIL": "email", "URL": "url", "ADDRESS": "address", "VEHICLE": "plate"}
SURNAMES = "김이박최정강조윤장임한오서신권황안송전홍유고문양손배백허남심노하곽성차주우구민류나진지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉"
TITLES = "씨|님|선배|후배|언니|오빠|형|누나|쌤|선생님|교수님|대리님|과장님|팀장님|부장님|사장님|대표님|고객님"
REGIONS = "서울|부산|대구|인천|광주|대전|울산|세종|경기|강원|충북|충남|전북|전남|경북|경남|제주"
EXTRA_PATTERNS = [
    ("url", re.compile(r"(?<![\w@.])(?:www\.)?[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|net|org|kr|io|me|ly|co)"
                       r"(?:/[\w\-./?%&=#~+]*)?(?![\w@])", re.IGNORECASE)),
    # a lot number after its 동/리 (역삼동 123-45); 우리 3-2 is a score
    ("address", re.compile(r"(?<![가-힣])(?!우리)[가-힣]{1,5}(?:동|리)\s?\d{1,4}-\d{1,4}(?:번지)?")),
    ("address", re.compile(r"(?<!\d)\d{2,4}동\s?\d{3,4}호")),
    ("plate", re.compile(rf"(?:{REGIONS})\s?\d{{1,2}}\s?[가-힣]\s?\d{{4}}(?!\d)")),
    # other people's names where chat marks them as names: a title after a full name (박서준 선배,
    # 강현우 대리님; not 고마워 언니), or a label before one (예금주 박지훈, 성함 오세훈)
    ("name", re.compile(rf"(?<![가-힣])[{SURNAMES}][가-힣]{{2}}(?<![워해요다까네게고면])(?=\s?(?:{TITLES}))")),
    ("name", re.compile(rf"(?:예금주|받는\s?분|성함은?|이름은|이름\s?:|담당자)\s*:?\s*(?P<value>[{SURNAMES}][가-힣]{{2}})"
                        r"(?![가-힣])")),
]
# A word like "naver.com" said in passing is still a link; "v1.2" or "3.5" is not one (no letters TLD).


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str


def find(text: str, kinds: Iterable[str] = PII_KINDS, known_names: Iterable[str] = ()) -> list[Finding]:
    """Personal information in `text`, as non-overlapping spans in order. `known_names` are the chat's
    participants (masked as names elsewhere): not reported as other people's names."""
    from ko_pii import detect_all

    wanted, known = set(kinds), set(known_names)
    found = [Finding(KO_PII_KINDS[result.label], result.start, result.end, result.text)
             for result in detect_all(text, include=list(KO_PII_KINDS))
             if KO_PII_KINDS[result.label] in wanted and not _only_a_place(result)]
    for kind, pattern in EXTRA_PATTERNS:
        if kind in wanted:
            found += [Finding(kind, *match.span(_value(match)), match.group(_value(match)))
                      for match in pattern.finditer(text)]
    found = [item for item in found if not (item.kind == "name" and item.text in known)]
    return _merged(sorted(found, key=lambda item: (item.start, -item.end)), text)


def _only_a_place(result) -> bool:
    """A district or neighbourhood alone (강남구, 역삼동, 경기) is not a street address: one has a number."""
    return result.label == "ADDRESS" and not any(char.isdigit() for char in result.text)


def _value(match: re.Match) -> int | str:
    return "value" if "value" in match.re.groupindex else 0


def _merged(findings: list[Finding], text: str) -> list[Finding]:
    """Overlapping findings become one span, of the kind of the longest (ko-pii's 역삼동 inside 역삼동 123-45)."""
    merged: list[Finding] = []
    for item in findings:
        if merged and item.start < merged[-1].end:
            last = merged[-1]
            kind = last.kind if last.end - last.start >= item.end - item.start else item.kind
            end = max(last.end, item.end)
            merged[-1] = Finding(kind, last.start, end, text[last.start:end])
        else:
            merged.append(item)
    return merged


def masked(text: str, findings: list[Finding]) -> str:
    """`text` with each finding (from find) replaced by its placeholder."""
    for item in reversed(findings):
        text = text[:item.start] + PII_PLACEHOLDERS[item.kind] + text[item.end:]
    return text


def found_segments(text: str, findings: list[Finding]) -> list[tuple[str, str | None]]:
    """`text` cut at its findings: (piece, None) for the text kept, (value, kind) for each finding."""
    segments, position = [], 0
    for item in findings:
        if item.start > position:
            segments.append((text[position:item.start], None))
        segments.append((item.text, item.kind))
        position = item.end
    if position < len(text):
        segments.append((text[position:], None))
    return segments




def participant_words(names: Iterable[str]) -> list[str]:
    """A chat's participants as they are written: full names and, for Korean names, the given name."""
    return [word for name in names for word in ([name, name[1:]] if re.fullmatch(r"[가-힣]{3}", name) else [name])]

