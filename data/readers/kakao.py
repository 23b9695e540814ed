"""KakaoTalk chat exports: PC text, mobile (Android/iOS) text, and Mac CSV.

A message's continuation lines join it; system lines (joined, left, invited) and media placeholders
(사진, 동영상, 이모티콘, 삭제된 메시지) are not speech. A conversation ends where the chat went quiet
for longer than the gap, or where the day changed.
"""
from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.i18n import Text
from data.conversation import Conversation, Turn
from data.report import Report
from data.sources import SkipFile, SourceFile

PC_DATE_RULE = re.compile(r"^-+\s*(\d{4})년 (\d{1,2})월 (\d{1,2})일 \S+\s*-+$")
PC_MESSAGE = re.compile(r"^\[(?P<name>[^\]]+)\] \[(?P<ampm>오전|오후|AM|PM) (?P<hour>\d{1,2}):(?P<minute>\d{2})\] (?P<text>.*)$")
MOBILE_DATE_LINE = re.compile(r"^(\d{4})년 (\d{1,2})월 (\d{1,2})일 \S+요일$")
MOBILE_STAMP = (r"^(?P<year>\d{4})\. ?(?P<month>\d{1,2})\. ?(?P<day>\d{1,2})\.? "
                r"(?P<ampm>오전|오후|AM|PM) (?P<hour>\d{1,2}):(?P<minute>\d{2})")
MOBILE_MESSAGE = re.compile(MOBILE_STAMP + r",? (?P<name>.+?) : (?P<text>.*)$")
MOBILE_SYSTEM = re.compile(MOBILE_STAMP + r"[,:]? (?P<text>.*)$")
HEADER = re.compile(r"^(.+ 님과 카카오톡 대화|.*카카오톡 대화|저장한 날짜 ?: .*|Talk_.*)$")
CSV_HEADER = ("date", "user", "message")
SYSTEM_TEXT = re.compile(
    r"(님이 들어왔습니다|님이 나갔습니다|님을 초대(했|하였)습니다|님을 내보냈습니다|님이 퇴장|"
    r"채팅방 관리자가|메시지를 가렸습니다|님이 방장|운영정책을 위반한|불법촬영물)"
)
MEDIA_PLACEHOLDER = re.compile(
    r"^(사진( \d+장)?|동영상|이모티콘|\(이모티콘\)|삭제된 메시지입니다\.?|음성메시지|보이스톡.*|페이스톡.*|"
    r"라이브톡.*|(파일|지도|샵검색|연락처|투표|일정): .+)$"
)
DEFAULT_GAP = timedelta(hours=1)


@dataclass
class Message:
    speaker: str
    text: str
    time: datetime | None
    line: int


def sniff(head_text: str) -> str | None:
    """"pc", "mobile" or "csv" when the first lines look like that export, else None."""
    lines = [line.strip() for line in head_text.splitlines()[:80]]
    if lines and tuple(cell.strip().strip('"').lower() for cell in lines[0].lstrip("\ufeff").split(",")[:3]) == CSV_HEADER:
        return "csv"
    if any(PC_MESSAGE.match(line) or PC_DATE_RULE.match(line) for line in lines):
        return "pc"
    if any(MOBILE_MESSAGE.match(line) for line in lines):
        return "mobile"
    return None


def read(source: SourceFile, report: Report, gap: timedelta = DEFAULT_GAP) -> Iterator[Conversation]:
    with source.open_text(newline="") as text:
        kind = sniff(text.read(16 * 1024))
    if kind is None:
        raise SkipFile("not a KakaoTalk export (no '[이름] [오전 9:48] …', '2025. 10. 23. 오전 11:44, 이름 : …' "
                       "or 'Date,User,Message' lines)",
                       ko="카카오톡 내보내기 파일이 아닙니다('[이름] [오전 9:48] …', '2025. 10. 23. 오전 11:44, 이름 : …' "
                          "또는 'Date,User,Message' 형식의 줄이 없습니다)")
    with source.open_text(newline="") as text:
        parse = {"pc": _parse_pc, "mobile": _parse_mobile, "csv": _parse_csv}[kind]
        messages = list(_until_decode_error(parse(text, source.name, report), source.name, report))
    speech = [m for m in messages if not MEDIA_PLACEHOLDER.match(m.text.strip())]
    if len(speech) < len(messages):
        dropped = len(messages) - len(speech)
        report.note(Text(f"{source.name}: {dropped} media or deleted-message placeholders dropped",
                         f"{source.name}: 미디어·삭제된 메시지 표시 {dropped}개를 제외했습니다"))
    for message in speech:
        message.text = message.text.strip()
    counts = Counter(m.speaker for m in speech if m.text)
    if not counts:
        raise SkipFile("a KakaoTalk export with no messages in it", ko="메시지가 없는 카카오톡 내보내기 파일입니다")
    most_active = counts.most_common(1)[0][0]
    for chunk in split_conversations([m for m in speech if m.text], gap):
        yield Conversation(
            source=source.name, format="kakao", default_bot=most_active, names=tuple(counts),
            turns=[Turn(m.speaker, m.text, m.time) for m in chunk],
        )


def split_conversations(messages: list[Message], gap: timedelta) -> Iterator[list[Message]]:
    chunk: list[Message] = []
    for message in messages:
        if chunk and _is_break(chunk[-1].time, message.time, gap):
            yield chunk
            chunk = []
        chunk.append(message)
    if chunk:
        yield chunk


def _is_break(previous: datetime | None, current: datetime | None, gap: timedelta) -> bool:
    if previous is None or current is None:
        return False
    return current.date() != previous.date() or current - previous > gap


def _until_decode_error(messages: Iterable[Message], source_name: str, report: Report) -> Iterator[Message]:
    try:
        yield from messages
    except UnicodeDecodeError as err:
        report.skip_file(source_name, Text(f"stopped reading part-way: bytes that are not {err.encoding} "
                                           "(the messages before them are kept)",
                                           f"{err.encoding}이(가) 아닌 바이트가 있어 중간에 읽기를 멈췄습니다"
                                           "(그 앞의 메시지는 사용합니다)"))


def _clock(ampm: str, hour: str, minute: str) -> tuple[int, int]:
    hour_24 = int(hour) % 12 + (12 if ampm in ("오후", "PM") else 0)
    return hour_24, int(minute)


def _is_system(text: str) -> bool:
    return bool(SYSTEM_TEXT.search(text))


_BREAK = "break"    # a date or system line: it ends the message before it
_HEADER = "header"  # the export's title lines


def _assemble(lines: Iterable[str], classify, source_name: str, report: Report) -> Iterator[Message]:
    """Messages from an export's lines. `classify(line, number)` says what a line is: a new Message,
    _BREAK, _HEADER, or None for a line that continues the message before it."""
    pending: Message | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        kind = classify(line, number)
        if isinstance(kind, Message) or kind == _BREAK:
            if pending:
                yield pending
            pending = kind if isinstance(kind, Message) else None
        elif kind == _HEADER and pending is None:
            continue
        elif pending is not None:
            pending.text += "\n" + line
        elif line.strip():
            report.skip_line(source_name, number, Text("text before the first message", "첫 메시지 앞의 텍스트입니다"))
    if pending:
        yield pending


def _parse_pc(lines: Iterable[str], source_name: str, report: Report) -> Iterator[Message]:
    day: date | None = None  # PC exports give the date once, in a rule line, and only the time per message

    def classify(line: str, number: int):
        nonlocal day
        if rule := PC_DATE_RULE.match(line.strip()):
            day = date(*map(int, rule.groups()))
            return _BREAK
        if message := PC_MESSAGE.match(line):
            hour, minute = _clock(message["ampm"], message["hour"], message["minute"])
            time = datetime(day.year, day.month, day.day, hour, minute) if day else None
            return Message(message["name"].strip(), message["text"], time, number)
        if HEADER.match(line.strip()):
            return _HEADER
        return _BREAK if _is_system(line) else None

    return _assemble(lines, classify, source_name, report)


def _parse_mobile(lines: Iterable[str], source_name: str, report: Report) -> Iterator[Message]:
    def classify(line: str, number: int):
        if message := MOBILE_MESSAGE.match(line):
            return Message(message["name"].strip(), message["text"], _mobile_time(message), number)
        if MOBILE_SYSTEM.match(line) or MOBILE_DATE_LINE.match(line.strip()):
            return _BREAK
        return _HEADER if HEADER.match(line.strip()) else None

    return _assemble(lines, classify, source_name, report)


def _mobile_time(match: re.Match) -> datetime:
    hour, minute = _clock(match["ampm"], match["hour"], match["minute"])
    return datetime(int(match["year"]), int(match["month"]), int(match["day"]), hour, minute)


def _parse_csv(lines: Iterable[str], source_name: str, report: Report) -> Iterator[Message]:
    rows = csv.reader(lines)
    next(rows, None)  # the header
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 3:
            report.skip_line(source_name, number, Text("expected 3 columns: Date,User,Message",
                                                       "열이 3개(Date,User,Message)여야 합니다"))
            continue
        stamp, speaker, text = row[0].strip(), row[1].strip(), ",".join(row[2:])
        try:
            time = datetime.fromisoformat(stamp)
        except ValueError:
            report.skip_line(source_name, number, Text(f"unreadable date '{stamp[:40]}'",
                                                       f"날짜를 읽을 수 없습니다: '{stamp[:40]}'"))
            continue
        if not speaker or _is_system(text):
            continue
        yield Message(speaker, text, time, number)
