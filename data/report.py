"""What a preparation run read, kept and skipped, with a reason for everything skipped.

Reasons and notes are `core.i18n.Text` where a Korean translation exists: strings that are the English
text (in report.json, in comparisons, as `dropped` keys) and carry the Korean for the UI and CLI.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

MAX_LISTED_LINES = 1000  # skipped lines beyond this are only counted, so a bad 1 GB file can't bloat the report
MAX_MASKED_LINES = 50    # lines kept with what was masked in them, for the Dataset tab's preview (never written)


@dataclass
class Report:
    files_read: dict[str, str] = field(default_factory=dict)         # source -> format
    skipped_files: list[dict] = field(default_factory=list)          # {"source", "reason"}
    skipped_lines: list[dict] = field(default_factory=list)          # {"source", "line", "reason"}
    skipped_line_count: int = 0
    dropped: Counter = field(default_factory=Counter)                # reason -> conversations dropped
    notes: list[str] = field(default_factory=list)
    masked: Counter = field(default_factory=Counter)                 # personal information kind -> masked
    masked_lines: list = field(default_factory=list)                 # (original line, its findings), for the preview

    def skip_file(self, source: str, reason: str) -> None:
        self.skipped_files.append({"source": source, "reason": reason})

    def skip_line(self, source: str, line: int, reason: str) -> None:
        self.skipped_line_count += 1
        if len(self.skipped_lines) < MAX_LISTED_LINES:
            self.skipped_lines.append({"source": source, "line": line, "reason": reason})

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)
