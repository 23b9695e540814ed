"""One module per source format; each turns a `SourceFile` into `Conversation`s."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

from core.artifacts import FORMATS
from data.conversation import Conversation
from data.readers import aihub, generic, kakao
from data.report import Report
from data.sources import SkipFile, SourceFile

__all__ = ["FORMATS", "detect_format", "read_source"]


def read_source(source: SourceFile, fmt: str, report: Report, gap: timedelta) -> Iterator[Conversation]:
    """Conversations from one file in format `fmt` (a FORMATS name other than auto, or "generic").

    Raises SkipFile when the file can't be used at all; the caller reports it and goes on.
    """
    if fmt == "aihub":
        return aihub.read(source)
    if fmt == "kakao":
        return kakao.read(source, report, gap)
    if fmt == "generic":
        return generic.read(source, report)
    return generic.read(source, report, fmt)


def detect_format(source: SourceFile) -> str:
    """aihub, kakao or generic (JSON/JSONL rows of any generic kind), from the file's suffix and content."""
    if source.suffix in (".txt", ".csv"):
        if kakao.sniff(source.head().decode(source.encoding(), errors="ignore")):
            return "kakao"
        raise SkipFile("not a recognised chat export (expected a KakaoTalk PC/mobile text or Mac CSV export)",
                       ko="알아볼 수 있는 대화 내보내기 파일이 아닙니다"
                          "(카카오톡 PC/모바일 텍스트 또는 Mac CSV 내보내기여야 합니다)")
    if source.suffix == ".json":
        head = source.head().decode(source.encoding(), errors="ignore")
        # AI Hub files are small, one conversation each: peek for their top-level key cheaply.
        if '"info"' in head and '"annotations"' in head:
            return "aihub"
        try:
            if aihub.looks_like(json.loads(head)):
                return "aihub"
        except json.JSONDecodeError:
            pass
    return "generic"
