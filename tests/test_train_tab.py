"""The Train tab driven through the running app: start a demo run, watch it progress, stop it,
see a second start refused, and find the run again after a 'reload' (a new client)."""
from __future__ import annotations

import json
import time

import pytest
from gradio_client import Client

from tests.app_server import running_demo_app
from core.runs import RunDir

# The Train tab's form by TrainConfig field name; every field not named keeps the page's default.
DEMO = {"dataset": "sample", "base_model": "demo", "max_steps": 300, "learning_rate": 0.002, "max_length": 256,
        "warmup_steps": 2, "logging_steps": 2, "save_steps": 2}


@pytest.fixture(scope="module")
def app(tmp_path_factory, demo_model_dir):
    workspace_dir = tmp_path_factory.mktemp("train-app") / "workspace"
    with running_demo_app(workspace_dir, demo_model_dir) as url:
        yield url, workspace_dir


def drawn(plot) -> list[list]:
    """The plot's points that carry a value (each series also has one blank point for its legend)."""
    return [row for row in plot["data"] if row[1] is not None]


def wait_for_views(client, run_name, condition, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        views = client.predict(run_name, api_name="/run_views")
        if condition(*views):
            return views
        time.sleep(1)
    raise AssertionError(f"timed out; last views: {views[0]}")


def test_start_watch_progress_stop_and_refuse_a_second_start(app):
    url, workspace_dir = app
    client = Client(url, verbose=False)
    message, command, runs, _ = client.predict(run_name="ui-run", **DEMO, api_name="/start_training")
    assert "Started **ui-run**" in message
    assert "-m tuning.train --dataset" in command and "--base-model demo" in command and "ui-run" in command
    requested = json.loads((workspace_dir / "runs" / "ui-run" / "requested_config.json").read_text(encoding="utf-8"))
    assert requested["trust_remote_code"] is False  # off unless the user turns it on

    progress, plot, log = wait_for_views(client, "ui-run", lambda p, plot, log: len(drawn(plot)) >= 2)
    assert "running" in progress and "tokens/s" in progress and "<progress" in progress
    assert {row[2] for row in drawn(plot)} >= {"train"}
    assert "step 2/300" in log

    with pytest.raises(Exception) as refused:
        client.predict(run_name="second-run", **DEMO, api_name="/start_training")
    assert "already running in this workspace" in str(refused.value)

    reloaded = Client(url, verbose=False)  # a page reload: state comes back from the run's files
    progress, *_ = reloaded.predict("ui-run", api_name="/run_views")
    assert "ui-run" in progress and "running" in progress

    assert "Stopping **ui-run**" in reloaded.predict("ui-run", api_name="/stop_training")
    progress, *_ = wait_for_views(reloaded, "ui-run", lambda p, *_: "stopped" in p)
    run = RunDir(workspace_dir / "runs" / "ui-run")
    assert run.status().state == "stopped" and run.last_checkpoint() is not None
    stopped_at = run.status().step

    message, command = reloaded.predict("ui-run", api_name="/resume_training")
    assert f"from checkpoint-{stopped_at}" in message and "--resume" in command
    wait_for_views(reloaded, "ui-run", lambda *_: run.status().step > stopped_at and run.status().state == "running")
    assert run.status().resumed_from == f"checkpoint-{stopped_at}"
    reloaded.predict("ui-run", api_name="/stop_training")
    wait_for_views(reloaded, "ui-run", lambda p, *_: "stopped" in p)


def test_resume_starts_a_run_that_died_before_its_first_checkpoint_over(app):
    import os
    import signal

    url, workspace_dir = app
    client = Client(url, verbose=False)
    client.predict(run_name="no-checkpoint", **{**DEMO, "save_steps": 1000}, api_name="/start_training")
    run = RunDir(workspace_dir / "runs" / "no-checkpoint")
    wait_for_views(client, "no-checkpoint", lambda *_: step_of(run) >= 2)
    killed = run.status()
    os.kill(killed.pid, signal.SIGKILL)
    wait_for_views(client, "no-checkpoint", lambda p, *_: "failed" in p)
    assert run.last_checkpoint() is None

    message, command = client.predict("no-checkpoint", api_name="/resume_training")
    assert "over from step 0" in message and "--resume" in command
    wait_for_views(client, "no-checkpoint", lambda *_: run.status().pid not in (None, killed.pid)
                   and run.status().state == "running")
    assert run.status().step < killed.step  # the progress starts over too, not at the killed step
    wait_for_views(client, "no-checkpoint", lambda *_: run.status().state == "running" and step_of(run) >= 2)
    assert run.status().resumed_from is None
    client.predict("no-checkpoint", api_name="/stop_training")
    wait_for_views(client, "no-checkpoint", lambda p, *_: "stopped" in p)


def test_bad_settings_are_refused_with_a_message(app):
    url, _ = app
    with pytest.raises(Exception) as refused:  # 4-bit on a machine without a GPU
        Client(url, verbose=False).predict(run_name="bad-run", **DEMO, load_in_4bit="on", api_name="/start_training")
    assert "4-bit loading (QLoRA) needs an NVIDIA GPU" in str(refused.value)


def test_trust_remote_code_reaches_the_config_only_when_ticked(app):
    url, workspace_dir = app
    client = Client(url, verbose=False)
    client.predict(run_name="trusting", **{**DEMO, "max_steps": 1}, trust_remote_code=True, api_name="/start_training")
    requested = json.loads((workspace_dir / "runs" / "trusting" / "requested_config.json").read_text(encoding="utf-8"))
    assert requested["trust_remote_code"] is True
    wait_for_views(client, "trusting", lambda p, *_: "completed" in p or "failed" in p)


def test_a_run_of_two_processes_starts_from_the_tab_and_shows_the_torchrun_it_runs(app):
    url, workspace_dir = app
    client = Client(url, verbose=False)
    _, command, _, _ = client.predict(run_name="two-processes", **{**DEMO, "max_steps": 4}, processes=2,
                                      api_name="/start_training")
    launched, started = command.splitlines()
    assert "-m tuning.train" in launched and "two-processes" in launched
    assert started.startswith("# torchrun --standalone --nproc_per_node 2 --max_restarts 0 -m tuning.train --out")
    progress, _, log = wait_for_views(client, "two-processes", lambda p, *_: "completed" in p or "failed" in p)
    assert "completed" in progress, log
    config = json.loads((workspace_dir / "runs" / "two-processes" / "config.json").read_text(encoding="utf-8"))
    assert config["processes"] == 2 and "× 2 processes" in log


def test_every_field_of_the_form_is_a_training_config_field(tmp_path):
    """The form is keyed by TrainConfig's names: a misnamed component would be refused here (extra fields are
    forbidden), not land silently in another field."""
    from core.workspace import Workspace
    from ui.train_tab import train_config

    workspace = Workspace.open(tmp_path / "workspace")
    defaults = {"num_train_epochs": 1, "lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "batch_size": 2,
                "gradient_accumulation_steps": 4, "auto_batch_size": True, "packing": True, "prompt_format": "lines",
                "loss_on": "auto", "load_in_4bit": "auto", "backend": "auto", "seed": 1, "trust_remote_code": False}
    config = train_config(workspace, {**DEMO, **defaults})
    assert (config.max_length, config.save_steps, config.loss_on, config.load_in_4bit) == (256, 2, "all", None)
    with pytest.raises(Exception, match="extra"):
        train_config(workspace, {**DEMO, **defaults, "lora_rank": 8})


def step_of(run) -> int:
    status = run.status()
    return status.step if status else 0
