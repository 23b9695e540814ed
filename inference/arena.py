"""Blind A/B judgements between two chat models: the votes (one JSON line each, appended under a lock),
each pair's tally, and saved conversations."""
from __future__ import annotations

import fcntl
import json
import time
import uuid
from pathlib import Path
from typing import Literal

from core import fileio
from core.workspace import Workspace

Verdict = Literal["left", "right", "tie", "both_bad"]
VERDICTS = ("left", "right", "tie", "both_bad")
TALLY_COLUMNS = ["model 1", "model 2", "votes", "model 1 wins", "model 2 wins", "ties", "both bad",
                 "model 1 win rate", "model 2 win rate"]


def votes_path(workspace: Workspace) -> Path:
    return workspace.root / "votes.jsonl"


def record_vote(workspace: Workspace, left: str, right: str, verdict: Verdict, blind: bool = True) -> dict:
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    winner = {"left": left, "right": right}.get(verdict)
    vote = {"time": time.time(), "left": left, "right": right, "verdict": verdict, "winner": winner, "blind": blind}
    path = votes_path(workspace)
    # Appends of one short line under an exclusive lock: concurrent voters never interleave or lose a vote.
    with path.open("a", encoding="utf-8") as votes:
        fcntl.flock(votes, fcntl.LOCK_EX)
        votes.write(json.dumps(vote, ensure_ascii=False) + "\n")
        votes.flush()
        fcntl.flock(votes, fcntl.LOCK_UN)
    return vote


def read_votes(workspace: Workspace) -> list[dict]:
    path = votes_path(workspace)
    if not path.is_file():
        return []
    votes = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            votes.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a crash is skipped, the rest still count
            continue
    return votes


def tally(workspace: Workspace, blind_only: bool = True) -> list[list]:
    """One row per pair of models (in name order): votes, wins of each, ties, both bad, and win rates
    (wins over all the pair's votes)."""
    pairs: dict[tuple[str, str], dict] = {}
    for vote in read_votes(workspace):
        if blind_only and not vote.get("blind", True):
            continue
        first, second = sorted((vote["left"], vote["right"]))
        counts = pairs.setdefault((first, second), {"votes": 0, first: 0, second: 0, "tie": 0, "both_bad": 0})
        counts["votes"] += 1
        if vote["winner"] in (first, second):
            counts[vote["winner"]] += 1
        elif vote["verdict"] in ("tie", "both_bad"):
            counts[vote["verdict"]] += 1
    rows = []
    for (first, second), counts in sorted(pairs.items()):
        total = counts["votes"]
        rows.append([first, second, total, counts[first], counts[second], counts["tie"], counts["both_bad"],
                     f"{counts[first] / total:.0%}", f"{counts[second] / total:.0%}"])
    return rows


def save_conversation(workspace: Workspace, panes: list[dict], settings: dict) -> Path:
    """Both panes (model label, whether it was hidden, messages) as one JSON file under chats/."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = workspace.root / "chats" / f"chat-{stamp}-{uuid.uuid4().hex[:6]}.json"
    fileio.write_json(path, {"saved_at": time.time(), "settings": settings, "panes": panes})
    return path
