"""The Dataset tab driven through the running app with gradio_client, as the browser would."""
from __future__ import annotations

import json

import pytest
from gradio_client import Client, handle_file

from core.artifacts import PII_KINDS
from tests.app_server import running_app
from tests.conftest import SAMPLES



@pytest.fixture(scope="module")
def app(tmp_path_factory):
    workspace_dir = tmp_path_factory.mktemp("app") / "workspace"
    with running_app(workspace_dir) as url:
        yield url, workspace_dir


def options(uploads=None, source_path="", **overrides) -> dict:
    """The tab's form by PrepareConfig field name (plus where the inputs come from); the rest keep the page's
    defaults."""
    return {"uploads": uploads, "source_path": source_path, **overrides}


def test_preview_of_the_bundled_sample_shows_stats_histogram_and_samples_with_special_tokens(app):
    url, _ = app
    summary, histogram, files, _, samples, skipped = Client(url, verbose=False).predict(
        **options(source_path="samples/aihub_synthetic", speakers="numbered"), api_name="/preview")
    assert "conversations kept of 180 found" in summary
    assert "Speakers per conversation: 2 speakers:" in summary and "3 speakers:" in summary
    assert samples.startswith("<|begin_of_text|>user1: ") and "<|end_of_text|>" in samples
    assert "<name>" in samples or "bot: " in samples
    lengths = [row[0] for row in histogram["value"]["data"]]  # one row per example, binned by the plot
    assert len(lengths) >= 150 and all(0 < length <= 1024 for length in lengths) and histogram["x_bin"] > 0
    assert len(files["data"]) == 180 and files["data"][0] == ["samples/aihub_synthetic/KAKAO_SYN_0001.json", "aihub"]
    assert skipped["data"] == [] or skipped["data"] == [["", "", ""]]


def test_upload_preview_and_save_a_kakao_export(app):
    url, workspace_dir = app
    client = Client(url, verbose=False)
    upload = [handle_file(str(SAMPLES / "kakao" / "kakao_mobile_synthetic.txt"))]
    summary, *_ = client.predict(**options(uploads=upload, bot="최유나", val_ratio=0.0), api_name="/preview")
    assert "conversations kept" in summary
    message, saved = client.predict(name="my-chats", **options(uploads=upload, bot="최유나", val_ratio=0.0), api_name="/save_dataset")
    assert "Saved **my-chats**" in message
    dataset = workspace_dir / "datasets" / "my-chats"
    rows = [json.loads(line) for line in (dataset / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    bot_lines = [m["content"] for row in rows for m in row["messages"] if m["speaker"] == "bot"]
    assert "나 오늘 국수 땡겨" in bot_lines  # 최유나 is the bot
    assert json.loads((dataset / "report.json").read_text(encoding="utf-8"))["config"]["bot"] == "최유나"
    assert list((workspace_dir / "uploads").glob("*/kakao_mobile_synthetic.txt"))


def test_personal_information_is_counted_highlighted_and_kept_by_kind(app, tmp_path):
    from tests.test_privacy import PLANTED, export

    url, _ = app
    chat = tmp_path / "KakaoTalk_planted.txt"
    chat.write_text(export([message.format(value) for _, value, message in PLANTED]), encoding="utf-8")
    upload = [handle_file(str(chat))]
    summary, _, _, masked, samples, _ = Client(url, verbose=False).predict(**options(uploads=upload, val_ratio=0.0),
                                                                          api_name="/preview")
    assert "Personal information masked: 2 phone numbers, 2 registration numbers, 1 card numbers" in summary
    highlighted = [(part["token"], part["class_or_confidence"]) for part in masked["value"]]
    assert ("010-9182-7364", "phone numbers") in highlighted and ("34나 5678", "car plates") in highlighted
    assert ("851212-2345674", "registration numbers") in highlighted and ("최동훈", "other people's names") in highlighted
    assert "010-9182-7364" not in samples and "<phone>" in samples and "<account>" in samples
    kept_phones, *_, samples, _ = Client(url, verbose=False).predict(
        **options(uploads=upload, val_ratio=0.0, pii_masked=[kind for kind in PII_KINDS if kind != "phone"]),
        api_name="/preview")
    assert "phone numbers" not in kept_phones and "010-9182-7364" in samples and "<account>" in samples


def test_bad_input_gives_a_clear_message_not_a_traceback(app, tmp_path):
    url, _ = app
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(Exception) as no_chat:
        Client(url, verbose=False).predict(**options(uploads=[handle_file(str(broken))]), api_name="/preview")
    assert "No usable conversation was found" in str(no_chat.value) and "broken JSON" in str(no_chat.value)
    with pytest.raises(Exception) as outside:
        Client(url, verbose=False).predict(**options(source_path="../../etc"), api_name="/preview")
    assert "outside the workspace" in str(outside.value)
    with pytest.raises(Exception) as bad_name:
        Client(url, verbose=False).predict(name="../evil", **options(source_path="samples/kakao"), api_name="/save_dataset")
    assert "not a usable name" in str(bad_name.value)
