"""The shape every reader produces: a conversation as an ordered list of speaker turns."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Turn:
    speaker: str                # the source's own id: AI Hub "2", a Kakao name, "user"/"assistant"
    text: str
    time: datetime | None = None


@dataclass
class Conversation:
    source: str                 # where it came from, e.g. "TL_01.zip!/KAKAO_900_01.json"
    format: str                 # aihub, kakao, text, messages, sharegpt, alpaca
    turns: list[Turn]
    subject: str = ""
    default_bot: str | None = None   # the bot speaker this format implies when the user names none
    role_based: bool = False    # speakers are roles (user/assistant): the bot is always the assistant
    names: tuple[str, ...] = field(default=())  # real participant names (Kakao), masked in the text

    def speakers(self) -> list[str]:
        """Speakers in order of first appearance."""
        return list(dict.fromkeys(turn.speaker for turn in self.turns))
