"""Speaker labels and the text the trainer sees.

`blog` is the seed's format exactly: one `user: …` or `bot: …` line per utterance, every speaker but
the bot called `user`. `numbered` keeps three-party chats honest: the other speakers become `user1`,
`user2`, … in order of appearance. The tokenizer's real end-of-sequence token is appended when the
text is tokenized (`data.tokens.training_ids`), not written into the text.
"""
from __future__ import annotations

from dataclasses import dataclass

SPEAKER_STYLES = ("blog", "numbered")
BOT_LABEL = "bot"


@dataclass(frozen=True)
class Line:
    label: str      # user, user1, bot
    role: str       # user or assistant
    content: str

    def render(self) -> str:
        # One utterance per line: a line break inside a message would read as a new, unlabelled line.
        return f"{self.label}: {' '.join(self.content.split())}"


def speaker_labels(speakers_in_order: list[str], bot: str, style: str) -> dict[str, str]:
    if style not in SPEAKER_STYLES:
        raise ValueError(f"unknown speaker style {style!r}; choose one of {', '.join(SPEAKER_STYLES)}")
    others = [speaker for speaker in speakers_in_order if speaker != bot]
    labels = {bot: BOT_LABEL}
    for number, speaker in enumerate(others, start=1):
        labels[speaker] = "user" if style == "blog" else f"user{number}"
    return labels


def render_text(lines: list[Line]) -> str:
    return "\n".join(line.render() for line in lines)


def as_messages(lines: list[Line]) -> list[dict]:
    return [{"role": line.role, "speaker": line.label, "content": line.content} for line in lines]


def stop_strings(labels: list[str]) -> list[str]:
    """What ends the bot's turn at chat time: the start of any other speaker's line."""
    return [f"\n{label}:" for label in labels if label != BOT_LABEL]
