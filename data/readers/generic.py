"""Generic chat datasets in JSON or JSONL: `text` ("speaker: message" lines), OpenAI `messages`,
ShareGPT `conversations`, and Alpaca `instruction`/`input`/`output` rows."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator

from core.i18n import Text
from data.conversation import Conversation, Turn
from data.report import Report
from data.sources import SkipFile, SourceFile

MAX_JSON_BYTES = 256 * 2**20
ASSISTANT = "assistant"
USER = "user"
ROLE_ALIASES = {"user": USER, "human": USER, "assistant": ASSISTANT, "gpt": ASSISTANT, "bot": ASSISTANT,
                "model": ASSISTANT, "chatgpt": ASSISTANT, "system": "system"}
SPEAKER_LINE = re.compile(r"^(?P<speaker>[^:\n]{1,32}?)\s*:\s?(?P<text>.*)$")
ROW_FORMATS = ("messages", "sharegpt", "alpaca", "text")


def row_format(row) -> str | None:
    if not isinstance(row, dict):
        return None
    if isinstance(row.get("messages"), list):
        return "messages"
    if isinstance(row.get("conversations"), list):
        return "sharegpt"
    if "instruction" in row and "output" in row:
        return "alpaca"
    if isinstance(row.get("text"), str):
        return "text"
    return None


def rows_of(document) -> list | None:
    """The rows of a JSON document: a list of rows, a single row, or {"data": [...]}."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        return document["data"]
    if row_format(document):
        return [document]
    return None


def read(source: SourceFile, report: Report, fmt: str | None = None) -> Iterator[Conversation]:
    """Rows of `fmt` (or of each row's own format when None) from a .jsonl or .json file."""
    if source.suffix == ".jsonl":
        rows = _jsonl_rows(source, report)
    else:
        try:
            document = json.loads(source.read_text(MAX_JSON_BYTES))
        except json.JSONDecodeError as err:
            raise SkipFile(f"broken JSON ({err.msg} at line {err.lineno}, column {err.colno})",
                           ko=f"형식이 잘못된 JSON입니다({err.lineno}번째 줄 {err.colno}번째 열: {err.msg})") from err
        listed = rows_of(document)
        if listed is None:
            raise SkipFile("no chat rows found (expected messages, conversations, instruction/output or text)",
                           ko="대화 행이 없습니다(messages, conversations, instruction/output 또는 text 행이어야 합니다)")
        rows = enumerate(listed, start=1)
    for number, row in rows:
        row_fmt = row_format(row)
        if row_fmt is None or (fmt and row_fmt != fmt):
            expected = fmt or "messages, conversations, instruction/output or text"
            expected_ko = fmt or "messages, conversations, instruction/output, text"
            report.skip_line(source.name, number, Text(f"not a {expected} row", f"{expected_ko} 행이 아닙니다"))
            continue
        turns = _TURN_BUILDERS[row_fmt](row)
        if turns is None:
            report.skip_line(source.name, number, Text(f"malformed {row_fmt} row", f"형식이 잘못된 {row_fmt} 행입니다"))
            continue
        speakers_are_roles = row_fmt != "text"
        yield Conversation(source=f"{source.name}#{number}", format=row_fmt, turns=turns,
                           default_bot=ASSISTANT if speakers_are_roles else "bot",
                           role_based=speakers_are_roles)


def _jsonl_rows(source: SourceFile, report: Report):
    try:
        with source.open_text() as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as err:
                    report.skip_line(source.name, number, Text(f"broken JSON ({err.msg})",
                                                               f"형식이 잘못된 JSON입니다({err.msg})"))
    except UnicodeDecodeError as err:
        report.skip_file(source.name, Text(f"stopped reading part-way: bytes that are not {err.encoding} "
                                           "(the rows before them are kept)",
                                           f"{err.encoding}이(가) 아닌 바이트가 있어 중간에 읽기를 멈췄습니다"
                                           "(그 앞의 행은 사용합니다)"))


def _messages_turns(row) -> list[Turn] | None:
    turns = []
    for message in row["messages"]:
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            return None
        role = ROLE_ALIASES.get(str(message.get("role", "")).lower())
        if role is None:
            return None
        # A user message may carry a "name": several users then stay distinct speakers.
        speaker = message.get("name") if role == USER and message.get("name") else role
        turns.append(Turn(str(speaker), message["content"]))
    return turns


def _sharegpt_turns(row) -> list[Turn] | None:
    turns = []
    for message in row["conversations"]:
        if not isinstance(message, dict) or not isinstance(message.get("value"), str):
            return None
        role = ROLE_ALIASES.get(str(message.get("from", "")).lower())
        if role is None:
            return None
        turns.append(Turn(role, message["value"]))
    return turns


def _alpaca_turns(row) -> list[Turn] | None:
    instruction, extra, output = (str(row.get(key) or "") for key in ("instruction", "input", "output"))
    prompt = f"{instruction}\n{extra}".strip()
    return [Turn(USER, prompt), Turn(ASSISTANT, output)]


def _text_turns(row) -> list[Turn] | None:
    """`speaker: message` lines, as this project and the seed render them; other lines continue a turn."""
    turns: list[Turn] = []
    for line in row["text"].splitlines():
        match = SPEAKER_LINE.match(line)
        if match:
            turns.append(Turn(match["speaker"].strip(), match["text"].strip()))
        elif turns and line.strip():
            turns[-1] = Turn(turns[-1].speaker, f"{turns[-1].text}\n{line.strip()}")
    return turns or None


_TURN_BUILDERS = {"messages": _messages_turns, "sharegpt": _sharegpt_turns,
                  "alpaca": _alpaca_turns, "text": _text_turns}
