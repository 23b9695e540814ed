"""Publishing an export as a chat-only Hugging Face Space: the folder is a valid Space, starts on its
own as a Space would (python app.py, GRADIO_SERVER_* set) and chats; the token is never written down."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from gradio_client import Client

from core import artifacts
from core.artifacts import ExportManifest, PrivacyCheck
from core.errors import UserError
from data.privacy import find
from inference.privacy_check import check
from inference.publish import build_space, checked_for_publishing, push_space, require_confirmation
from tests.app_server import _wait_until_up, free_port
from tests.conftest import ROOT

TOKEN = "hf_test_NotARealToken123"


@pytest.fixture(scope="module")
def privacy(chat_export, workspace):
    return checked_for_publishing(chat_export, "model-q4_k_m.gguf", workspace)


@pytest.fixture(scope="module")
def space_dir(chat_export, privacy, tmp_path_factory):
    return build_space(chat_export, "model-q4_k_m.gguf", tmp_path_factory.mktemp("space") / "chat-run-space",
                       privacy=privacy)


def test_the_privacy_check_scans_the_training_data_probes_the_model_and_its_figures_reach_the_card(
        privacy, space_dir, chat_export, workspace):
    assert privacy.masked_kinds and privacy.lines_scanned > 1000 and privacy.stamp
    assert len(privacy.probed) == 30 and all(line.prompt_half and line.real_half for line in privacy.probed)
    assert all(re.search(r"\d|<name>", line.prompt_half + line.real_half)
               or find(line.prompt_half + line.real_half, ["name"]) for line in privacy.probed)
    written = artifacts.read(chat_export / "model-q4_k_m.privacy.json", PrivacyCheck)
    assert written.repeated == privacy.repeated and written.stamp == privacy.stamp
    card = (space_dir / "README.md").read_text(encoding="utf-8")
    assert (f"{privacy.repeated} of 30 training lines holding a number or a name were continued word for word"
            in card)
    assert f"({privacy.lines_scanned} lines scanned)" in card
    assert checked_for_publishing(chat_export, "model-q4_k_m.gguf", workspace) == privacy  # read back, not redone


def test_a_dataset_prepared_with_masking_off_needs_a_confirmation_to_publish(chat_export, tmp_path):
    from tests.test_privacy import PLANTED, export

    chat = tmp_path / "KakaoTalk_planted.txt"
    chat.write_text(export([message.format(value) for _, value, message in PLANTED] * 3), encoding="utf-8")
    dataset = tmp_path / "unmasked"
    prepared = subprocess.run([sys.executable, "-m", "data.prepare", str(chat), "--out", str(dataset),
                               "--no-mask-pii"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert prepared.returncode == 0, prepared.stderr
    manifest = artifacts.read(chat_export / "export.json", ExportManifest)
    flagged = check(chat_export / "model-q4_k_m.gguf", manifest, dataset, lines=5)
    assert flagged.masked_kinds == [] and flagged.needs_confirmation
    assert {"phone", "rrn", "card", "account", "email", "url", "plate"} <= set(flagged.remaining)
    assert "010-9182-7364" in {finding.text for finding in flagged.findings}
    assert 0 < len(flagged.probed) <= 5
    with pytest.raises(UserError, match="Not published: the dataset was prepared with personal-information masking off"):
        require_confirmation(flagged, confirmed=False)
    require_confirmation(flagged, confirmed=True)


def front_matter(readme: str) -> dict:
    block = readme.split("---")[1]
    return dict(line.split(": ", 1) for line in block.strip().splitlines())


def test_the_space_folder_has_an_app_its_requirements_the_model_and_a_card(space_dir):
    meta = front_matter((space_dir / "README.md").read_text(encoding="utf-8"))
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and meta["sdk_version"] == "6.31.0"
    requirements = (space_dir / "requirements.txt").read_text(encoding="utf-8").split()
    assert "gradio==6.31.0" in requirements and any(r.startswith("llama-cpp-python==") for r in requirements)
    assert not any(r.startswith(("torch", "unsloth")) for r in requirements)  # chat-only: no training stack
    assert (space_dir / "models" / "model-q4_k_m.gguf").is_file() and (space_dir / "models" / "export.json").is_file()
    card = (space_dir / "README.md").read_text(encoding="utf-8")
    assert "## Training recipe" in card and "| lora_r | 16 |" in card and "train examples" in card
    assert not (space_dir / "data" / "samples").exists()


def test_the_space_carries_the_chat_code_and_no_training_code(space_dir):
    shipped = {str(path.relative_to(space_dir)) for path in space_dir.rglob("*.py")}
    assert {"ui/chat_tab.py", "inference/chat.py", "data/chat_format.py", "core/artifacts.py"} <= shipped
    assert not (space_dir / "tuning").exists() and not any(name.startswith("tuning/") for name in shipped)
    assert not {"inference/export.py", "data/prepare.py", "models/demo.py", "ui/train_tab.py"} & shipped


def test_the_space_starts_as_a_space_would_and_chats(space_dir):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), HF_HUB_OFFLINE="1")
    log_path = space_dir.parent / "space.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=space_dir, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/"
            _wait_until_up(url, process, log_path)
            client = Client(url, verbose=False)
            model_id = "file:models/model-q4_k_m.gguf"
            assert client.predict(None, None, None, api_name="/chat_models")[0]["value"] == model_id
            history, stats, _ = client.predict(model_id, "주말에 뭐해?", [], 0.7, 0.9, 40, 1.1, 48, 1, api_name="/chat")
            assert history[-1]["role"] == "assistant" and "tok/s" in stats
        finally:
            process.terminate()
            process.wait(timeout=20)


def test_publishing_needs_a_token_and_never_writes_or_shows_it(space_dir, workspace, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(UserError, match="token"):
        push_space(space_dir, "minji/chatbot", None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no hub here: the upload fails, and says so
    with pytest.raises(UserError, match="Could not publish") as failed:
        push_space(space_dir, "minji/chatbot", TOKEN)
    assert TOKEN not in str(failed.value)
    for folder in (space_dir, workspace.root):
        for path in folder.rglob("*"):
            if path.is_file() and path.stat().st_size < 5_000_000:
                assert TOKEN.encode() not in path.read_bytes(), path


def test_the_publish_cli_refuses_an_out_that_is_a_file_and_leaves_it(chat_export, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "inference.publish", str(chat_export), "--file", "model-q4_k_m.gguf",
                             "--out", str(notes)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "is a file" in result.stderr and "Traceback" not in result.stderr
    assert notes.read_text(encoding="utf-8") == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
