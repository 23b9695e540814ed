"""AI Hub "주제별 텍스트 일상 대화 데이터": one JSON document per conversation,
`info[].annotations.lines[]` with `speaker.id` ("1번"), `norm_text` or `text` ("1 : 안녕")."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator

from data.conversation import Conversation, Turn
from data.sources import SkipFile, SourceFile

MAX_JSON_BYTES = 64 * 2**20
SPEAKER_PREFIX = re.compile(r"^\s*\d+\s*:\s*")
DEFAULT_BOT = "2"  # the seed trained the bot on speaker 2


def looks_like(document) -> bool:
    return isinstance(document, dict) and isinstance(document.get("info"), list) and any(
        isinstance(item, dict) and isinstance(item.get("annotations"), dict) for item in document["info"]
    )


def normalize_speaker(speaker_id) -> str:
    """"2번" and "2" name the same AI Hub speaker."""
    return str(speaker_id).strip().removesuffix("번").strip()


def read(source: SourceFile) -> Iterator[Conversation]:
    try:
        document = json.loads(source.read_text(MAX_JSON_BYTES))
    except json.JSONDecodeError as err:
        raise SkipFile(f"broken JSON ({err.msg} at line {err.lineno}, column {err.colno})",
                       ko=f"형식이 잘못된 JSON입니다({err.lineno}번째 줄 {err.colno}번째 열: {err.msg})") from err
    yield from from_document(document, source.name)


def from_document(document, source_name: str) -> Iterator[Conversation]:
    if not looks_like(document):
        raise SkipFile("not in AI Hub format (no info[].annotations)",
                       ko="AI Hub 형식이 아닙니다(info[].annotations가 없습니다)")
    for item in document["info"]:
        annotations = item.get("annotations") if isinstance(item, dict) else None
        if not isinstance(annotations, dict):
            continue
        turns = [turn for line in annotations.get("lines") or [] if (turn := _turn(line))]
        yield Conversation(
            source=source_name, format="aihub", turns=turns,
            subject=str(annotations.get("subject") or ""), default_bot=DEFAULT_BOT,
        )


def _turn(line) -> Turn | None:
    if not isinstance(line, dict):
        return None
    speaker = line.get("speaker")
    speaker_id = speaker.get("id") if isinstance(speaker, dict) else speaker
    text = line.get("norm_text") or SPEAKER_PREFIX.sub("", str(line.get("text") or ""))
    if speaker_id is None or not str(text).strip():
        return None
    return Turn(normalize_speaker(speaker_id), str(text).strip())
