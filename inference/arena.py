"""Blind A/B judgements between two chat models: the votes (one Vote line each, appended under a lock,
naming both models by stable id and the saved conversation judged), each pair's tally, and saved
conversations."""
from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Literal

from core import artifacts
from core.artifacts import Pane, SavedConversation, Vote
from core.workspace import Workspace

Verdict = Literal["left", "right", "tie", "both_bad"]
VERDICTS = ("left", "right", "tie", "both_bad")
TALLY_COLUMNS = ["model 1", "model 2", "votes", "model 1 wins", "model 2 wins", "ties", "both bad",
                 "model 1 win rate", "model 2 win rate"]


def record_vote(workspace: Workspace, left: str, right: str, verdict: Verdict, blind: bool = True,
                left_label: str | None = None, right_label: str | None = None,
                conversation: Path | None = None, evaluation: Path | None = None,
                context: list[dict] | None = None, replies: dict[str, str] | None = None) -> Vote:
    """A vote between two model ids; `conversation` is the saved conversation that was judged, or, for
    an evaluation's replies, `evaluation` (its folder), the held-out `context` and both `replies`."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    vote = Vote(left=left, right=right, left_label=left_label, right_label=right_label, verdict=verdict,
                winner={"left": left, "right": right}.get(verdict), blind=blind,
                conversation=workspace.relative(conversation) if conversation else None,
                evaluation=workspace.relative(evaluation) if evaluation else None, context=context, replies=replies)
    artifacts.append_row(workspace.votes, vote)
    return vote


def read_votes(workspace: Workspace) -> list[Vote]:
    # Not strict: a line cut by a crash is skipped, the rest still count.
    return artifacts.read_rows(workspace.votes, Vote, strict=False)


def tally(workspace: Workspace, blind_only: bool = True, labels: dict[str, str] | None = None) -> list[list]:
    """One row per pair of models (by id, named by `labels` where known, else by the label the vote
    kept): votes, wins of each, ties, both bad, and win rates (wins over all the pair's votes)."""
    names = dict(labels or {})
    pairs: dict[tuple[str, str], dict] = {}
    for vote in read_votes(workspace):
        if blind_only and not vote.blind:
            continue
        names.setdefault(vote.left, vote.left_label or vote.left)
        names.setdefault(vote.right, vote.right_label or vote.right)
        first, second = sorted((vote.left, vote.right))
        counts = pairs.setdefault((first, second), {"votes": 0, first: 0, second: 0, "tie": 0, "both_bad": 0})
        counts["votes"] += 1
        if vote.winner in (first, second):
            counts[vote.winner] += 1
        elif vote.verdict in ("tie", "both_bad"):
            counts[vote.verdict] += 1
    rows = []
    for (first, second), counts in sorted(pairs.items()):
        total = counts["votes"]
        rows.append([names[first], names[second], total, counts[first], counts[second], counts["tie"],
                     counts["both_bad"], f"{counts[first] / total:.0%}", f"{counts[second] / total:.0%}"])
    return rows


def save_conversation(workspace: Workspace, panes: list[Pane], settings: dict) -> Path:
    """Both panes (model id and label unless hidden, messages) as one file under chats/."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = workspace.chats / f"chat-{stamp}-{uuid.uuid4().hex[:6]}.json"
    artifacts.write(path, SavedConversation(settings=settings, panes=panes))
    return path

