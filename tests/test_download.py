"""A base model given by its Hugging Face id is downloaded when training starts, against a local server
that answers as the Hub's file API does (tests/hub_server.py; the real Hub is not reachable here): the
download's progress is in the run's files and the Train tab, a download killed part-way resumes where it
stopped, and a gated model needs a token, which is used and never written anywhere."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gradio_client import Client

from core import artifacts
from core.artifacts import DownloadProgress
from core.runs import RunDir
from tests.app_server import running_demo_app
from tests.conftest import ROOT
from tests.hub_server import Hub

TOKEN = "hf_tinyGatedToken_0123456789"
FAST = '{"max_length": 256, "logging_steps": 2, "save_steps": 50, "warmup_steps": 2, "learning_rate": 0.003}'


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """The environment a training process gets: the stand-in Hub, an empty Hugging Face cache, online."""
    def environment(hub: Hub) -> dict:
        values = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_OFFLINE": "0",
                  "HF_HUB_DISABLE_TELEMETRY": "1"}
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        return values

    return environment


def train(workspace, dataset, model_id: str, run_dir, config_file, env: dict, *extra: str):
    command = [sys.executable, "-m", "tuning.train", "--dataset", str(dataset), "--base-model", model_id, "--out",
               str(run_dir), "--config", str(config_file), "--max-steps", "2", "--workspace", str(workspace.root),
               *extra]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def config_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(FAST, encoding="utf-8")
    return path


def test_a_hub_model_is_downloaded_when_training_starts_and_a_killed_download_resumes(
        workspace, sample_dataset, tmp_path, hub_env):
    """A crash part-way through the weights: the shards that arrived are kept, the rest come after Resume.
    (huggingface_hub writes each file to a temporary file of its own process, so a file cut short is
    fetched again whole; from the Hub's Xet storage its chunks are kept too, which cannot be tried here.)"""
    from tests.families import build

    model = build("qwen2", tmp_path / "model", pretrained=False, shard_size="8MB", hidden_size=512,
                  intermediate_size=1536, num_hidden_layers=4)  # about 56 MB in 7 shards
    shards = sorted(path.name for path in model.glob("*.safetensors"))
    size = sum(path.stat().st_size for path in model.iterdir() if path.is_file())
    last = model / shards[-1]  # the shard still coming when the process dies
    with Hub({"tiny-org/tiny-qwen": model}, bytes_per_second=500_000, slow_files={last.name}) as hub:
        env = hub_env(hub)
        run = RunDir(tmp_path / "run")
        first = train(workspace, sample_dataset, "tiny-org/tiny-qwen", run.path, config_file(tmp_path), env)
        # a file is in the cache's snapshot only once it arrived whole (what the Hub sent may still be
        # on its way, and the progress counts parts of the files that are still coming)
        snapshots = Path(env["HF_HOME"]) / "hub" / "models--tiny-org--tiny-qwen" / "snapshots"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            progress = artifacts.read(run.files.download, DownloadProgress)
            arrived = {path.name for path in snapshots.glob("*/*.safetensors")}
            if progress is not None and set(shards[:-1]) <= arrived and not progress.done:
                break
            time.sleep(0.2)
        assert set(shards[:-1]) <= arrived and last.name not in arrived, arrived
        assert progress.bytes_total == size and run.status().phase == "download"
        first.send_signal(signal.SIGKILL)  # a crash part-way through the weights
        first.wait(timeout=60)
        assert run.state() == "failed"
        asked_before = len(hub.requests)

        hub.pace = None
        second = train(workspace, sample_dataset, "tiny-org/tiny-qwen", run.path, config_file(tmp_path), env, "--resume")
        output, _ = second.communicate(timeout=600)
    assert second.returncode == 0, output[-3000:]
    assert run.status().state == "completed" and run.config().base_model == "tiny-org/tiny-qwen"
    fetched_again = {request["path"].rsplit("/", 1)[-1] for request in hub.requests[asked_before:]
                     if request["method"] == "GET" and request["path"].endswith(".safetensors")}
    assert fetched_again == {last.name}, (fetched_again, progress)  # the shards that arrived before the crash stayed
    progress = artifacts.read(run.files.download, DownloadProgress)
    assert progress.done and progress.bytes_done == progress.bytes_total == size


def test_a_gated_model_needs_a_token_which_is_used_and_never_written(
        tiny_model, workspace, sample_dataset, tmp_path, hub_env):
    from tuning import launcher
    from tuning.config import Hardware, TrainConfig

    with Hub({"tiny-org/gated-qwen": tiny_model("qwen2")}, gated={"tiny-org/gated-qwen"}, token=TOKEN) as hub:
        env = hub_env(hub)
        refused = train(workspace, sample_dataset, "tiny-org/gated-qwen", tmp_path / "no-token", config_file(tmp_path),
                        env)
        output, _ = refused.communicate(timeout=300)
        status = RunDir(tmp_path / "no-token").status()
        assert status.state == "failed" and "tiny-org/gated-qwen is gated" in status.error, output[-2000:]
        assert "give a Hugging Face token" in status.error and "Traceback" not in output

        config = TrainConfig(dataset=str(sample_dataset), base_model="tiny-org/gated-qwen", max_steps=2,
                             max_length=256, logging_steps=2, save_steps=50, warmup_steps=2, learning_rate=0.003)
        run, command = launcher.start(workspace, config, "gated-run", Hardware(cuda=False), hub_token=TOKEN)
        assert TOKEN not in " ".join(command)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and run.state() in ("missing", "running"):
            time.sleep(1)
    assert run.state() == "completed", run.log_tail()
    assert any(request["authorized"] for request in hub.requests)
    for folder in (workspace.root, tmp_path):
        for path in folder.rglob("*"):
            if path.is_file() and path.stat().st_size < 20_000_000:
                assert TOKEN.encode() not in path.read_bytes(), path


def test_the_train_tab_shows_the_download_as_it_goes(tiny_model, demo_model_dir, tmp_path, hub_env):
    with Hub({"tiny-org/slow-qwen": tiny_model("qwen2")}, bytes_per_second=500_000) as hub:
        env = hub_env(hub)
        with running_demo_app(tmp_path / "workspace", demo_model_dir, env_extra=env) as url:
            client = Client(url, verbose=False)
            client.predict(run_name="downloading", dataset="sample", base_model="tiny-org/slow-qwen", max_steps=2,
                           max_length=256, api_name="/start_training")
            deadline, seen = time.monotonic() + 120, ""
            while time.monotonic() < deadline and "downloading tiny-org/slow-qwen" not in seen:
                seen = client.predict("downloading", api_name="/run_views")[0]
                time.sleep(0.5)
            assert "downloading tiny-org/slow-qwen" in seen and " of " in seen and "GB" in seen, seen
            client.predict("downloading", api_name="/stop_training")
