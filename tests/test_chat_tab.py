"""The Chat tab through the running app: single chat streams, Compare streams both panes, blind votes
are stored and tallied, eight clients chat at once, conversations are saved."""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client

from data.chat_format import message_text
from tests.app_server import running_app

BASE, TUNED = "base-gguf:demo", "export:chat-run-final/model-q4_k_m.gguf"  # stable model ids
BASE_LABEL, TUNED_LABEL = "base · demo · f16 GGUF", "chat-run-final · q4_k_m"  # what the page shows
SETTINGS = [0.7, 0.9, 40, 1.1, 160, 3]  # temperature, top-p, top-k, repetition penalty, max new tokens, seed


@pytest.fixture(scope="module")
def app(workspace, chat_export):
    with running_app(workspace.root) as url:
        yield url


def messages(pane) -> list[dict]:
    """A chat pane's messages; Compare sends panes as updates that also carry their label."""
    return pane["value"] if isinstance(pane, dict) else pane


def last_answer(pane) -> str:
    history = messages(pane)
    assert history[-1]["role"] == "assistant", history
    return message_text(history[-1]["content"])


def test_a_single_chat_streams_the_answer(app):
    outputs = list(Client(app, verbose=False).submit(TUNED, "주말에 뭐해?", [], *SETTINGS, api_name="/chat"))
    history, stats, box = outputs[-1]
    assert [m["role"] for m in history] == ["user", "assistant"] and last_answer(history).strip()
    assert re.search(r"\d+ tokens · [\d.]+ tok/s", stats) and box == ""
    assert len(outputs) >= 3  # the question at once, then the answer as it grows
    assert message_text(outputs[0][0][0]["content"]) == "주말에 뭐해?"


def test_compare_answers_in_both_panes_at_once(app):
    outputs = list(Client(app, verbose=False).submit(BASE, TUNED, False, "퇴근하고 뭐 할 거야?", [], [], *SETTINGS,
                                                     api_name="/compare"))
    pane_a, pane_b, stats_a, stats_b, _ = outputs[-1]
    assert last_answer(pane_a).strip() and last_answer(pane_b).strip()
    assert "tok/s" in stats_a and "tok/s" in stats_b
    # Both panes were filled by the same stream of updates, not one after the other's end.
    growing = [(a, b) for _, _, a, b, _ in outputs if "writing…" in a or "writing…" in b]
    assert growing, [(a, b) for _, _, a, b, _ in outputs]


def test_a_blind_vote_is_stored_and_tallied(app, workspace):
    client = Client(app, verbose=False)
    client.predict(BASE, TUNED, True, api_name="/new_round")
    with pytest.raises(Exception, match="Send a message"):
        client.predict([], [], api_name="/vote_left")
    pane_a, pane_b, *_ = client.predict(BASE, TUNED, True, "오늘 저녁 뭐 먹지?", [], [], *SETTINGS, api_name="/compare")
    assert pane_a["label"] == "A · ?" and pane_b["label"] == "B · ?"  # names hidden until the vote
    pane_a, pane_b = messages(pane_a), messages(pane_b)
    message, tally, *_ = client.predict(pane_a, pane_b, api_name="/vote_left")
    left = re.search(r"A was \*\*(.+?)\*\*, B was \*\*(.+?)\*\*", message)
    assert left and {left[1], left[2]} == {BASE_LABEL, TUNED_LABEL}
    left_id = BASE if left[1] == BASE_LABEL else TUNED
    votes = [json.loads(line) for line in (workspace.root / "votes.jsonl").read_text(encoding="utf-8").splitlines()]
    vote = votes[-1]
    assert vote["winner"] == left_id and vote["left"] == left_id and vote["blind"] and vote["left_label"] == left[1]
    judged = json.loads((workspace.root / vote["conversation"]).read_text(encoding="utf-8"))  # the vote's evidence
    assert [pane["model"] for pane in judged["panes"]] == [vote["left"], vote["right"]]
    assert judged["panes"][0]["messages"] == [{"role": m["role"], "content": message_text(m["content"])}
                                              for m in pane_a]
    rows = {(row[0], row[1]): row for row in tally["data"]}
    first, second = sorted((BASE, TUNED))
    labels = {BASE: BASE_LABEL, TUNED: TUNED_LABEL}
    row = rows[(labels[first], labels[second])]
    winner_column = 3 if first == left_id else 4
    assert row[2] >= 1 and row[winner_column] >= 1
    with pytest.raises(Exception, match="has its vote"):
        client.predict(pane_a, pane_b, api_name="/vote_tie")

    sighted = Client(app, verbose=False)
    pane_a, pane_b, *_ = sighted.predict(BASE, TUNED, False, "안녕", [], [], *SETTINGS, api_name="/compare")
    with pytest.raises(Exception, match="only in blind mode"):
        sighted.predict(messages(pane_a), messages(pane_b), api_name="/vote_right")


def test_eight_clients_chatting_at_once_all_get_answers(app):
    def chat(number: int) -> str:
        history, _, _ = Client(app, verbose=False).predict(TUNED, f"{number}번 친구야, 뭐해?", [],
                                                           *SETTINGS[:-1], number, api_name="/chat")
        return last_answer(history)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(chat, range(8)))
    assert len(answers) == 8 and all(answer.strip() for answer in answers)


def test_a_compared_conversation_is_saved_as_json(app, workspace):
    client = Client(app, verbose=False)
    pane_a, pane_b, *_ = client.predict(BASE, TUNED, False, "내일 시간 있어?", [], [], *SETTINGS, api_name="/compare")
    downloaded = Path(client.predict(messages(pane_a), messages(pane_b), *SETTINGS, api_name="/save_chat"))
    saved = workspace.root / "chats" / downloaded.name
    record = json.loads(saved.read_text(encoding="utf-8"))
    assert json.loads(downloaded.read_text(encoding="utf-8")) == record
    assert [pane["model"] for pane in record["panes"]] == [BASE, TUNED]
    for pane in record["panes"]:
        assert [m["role"] for m in pane["messages"]] == ["user", "assistant"]
        assert pane["messages"][0]["content"] == "내일 시간 있어?"
    assert record["settings"]["seed"] == 3


def test_a_missing_model_is_a_clear_message(app, tmp_path):
    with pytest.raises(Exception, match="No GGUF file"):
        Client(app, verbose=False).predict(str(tmp_path / "gone.gguf"), "안녕", [], *SETTINGS, api_name="/chat")


def test_a_model_too_large_for_the_memory_budget_is_refused_before_loading(workspace, chat_export, monkeypatch):
    monkeypatch.setenv("TUNER_CHAT_MEMORY_GIB", "0.001")
    with running_app(workspace.root) as url:
        with pytest.raises(Exception, match="chat memory budget") as refused:
            Client(url, verbose=False).predict(TUNED, "안녕", [], *SETTINGS, api_name="/chat")
    assert "It was not loaded" in str(refused.value)
