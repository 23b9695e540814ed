"""Training through the real subprocess (`python -m tuning.train`) on the demo model."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from core.runs import RunDir

FAST = {"max_length": 256, "logging_steps": 2, "eval_steps": 4, "save_steps": 2, "warmup_steps": 2,
        "learning_rate": 0.002}


def train_command(workspace, dataset, run_dir, config_path, *extra):
    return [sys.executable, "-m", "tuning.train", "--dataset", str(dataset), "--base-model", "demo",
            "--out", str(run_dir), "--config", str(config_path), "--workspace", str(workspace.root), *extra]


def write_config(tmp_path, **values):
    path = tmp_path / f"config-{len(list(tmp_path.glob('config-*')))}.json"
    path.write_text(json.dumps({**FAST, **values}), encoding="utf-8")
    return path


def run_training(command, timeout=600):
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def start_training(command):
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})


def step_of(run) -> int:
    status = run.status()
    return status.step if status else 0


def wait_for(condition, timeout=300, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_short_demo_run_completes_and_its_loss_falls(workspace, demo_model_dir, sample_dataset, tmp_path):
    run = RunDir(tmp_path / "run")
    result = run_training(train_command(workspace, sample_dataset, run.path, write_config(tmp_path), "--max-steps", "12"))
    assert result.returncode == 0, result.stderr[-3000:]
    status = run.status()
    assert status.state == "completed" and status.step == 12
    losses = [row.loss for row in run.metrics() if row.loss is not None]
    assert len(losses) == 6 and losses[-1] < losses[0] - 0.3
    assert any(row.eval_loss is not None for row in run.metrics())
    assert all(row.tokens_per_s > 0 and row.eta_s is not None and row.learning_rate is not None
               for row in run.metrics() if row.loss is not None)
    adapter = run.files.adapter
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "tokenizer.json").is_file()
    saved = json.loads(run.files.config.read_text())
    assert saved["backend"] == "hf" and saved["optim"] == "adamw_torch" and saved["load_in_4bit"] is False
    assert saved["schema_version"] == 1
    assert "step 12/12" in run.files.log.read_text()


def test_the_adapter_loads_back_and_changes_the_models_answers(workspace, demo_model_dir, sample_dataset, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = RunDir(tmp_path / "run")
    config = write_config(tmp_path, learning_rate=0.003)
    assert run_training(train_command(workspace, sample_dataset, run.path, config, "--max-steps", "16")).returncode == 0
    tokenizer = AutoTokenizer.from_pretrained(run.files.adapter)
    base = AutoModelForCausalLM.from_pretrained(demo_model_dir)
    prompt = tokenizer("user: 오늘 점심 뭐 먹을래?\nbot:", return_tensors="pt")
    with torch.no_grad():
        before = base.generate(**prompt, max_new_tokens=12, do_sample=False)
        tuned = PeftModel.from_pretrained(base, run.files.adapter)
        after = tuned.generate(**prompt, max_new_tokens=12, do_sample=False)
    assert not torch.equal(before, after)


def test_stop_saves_a_checkpoint_and_resume_continues_from_its_step(workspace, demo_model_dir, sample_dataset,
                                                                     tmp_path):
    run = RunDir(tmp_path / "run")
    config = write_config(tmp_path)
    first = start_training(train_command(workspace, sample_dataset, run.path, config, "--max-steps", "400"))
    try:
        wait_for(lambda: step_of(run) >= 3, what="step 3")
        second = run_training(train_command(workspace, sample_dataset, tmp_path / "other", config, "--max-steps", "2"))
        assert second.returncode == 2 and "already running in this workspace" in second.stderr
        assert not (tmp_path / "other" / "status.json").exists()
        run.request_stop()
        assert first.wait(timeout=300) == 0
    finally:
        first.kill()
    status = run.status()
    assert status.state == "stopped"
    stopped_at = status.step
    checkpoint = run.last_checkpoint()
    assert checkpoint.name == f"checkpoint-{stopped_at}" and (checkpoint / "optimizer.pt").is_file()

    resumed = run_training(train_command(workspace, sample_dataset, run.path, config, "--resume",
                                         "--max-steps", str(stopped_at + 4)))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    status = run.status()
    assert status.state == "completed" and status.step == stopped_at + 4
    assert status.resumed_from == checkpoint.name
    steps = [row.step for row in run.metrics() if row.loss is not None]
    assert steps == sorted(set(steps))  # no step logged twice across the stop
    assert stopped_at < steps[-1] <= stopped_at + 4
    trainer_state = json.loads((run.last_checkpoint() / "trainer_state.json").read_text())
    assert trainer_state["global_step"] == stopped_at + 4


def test_a_killed_run_is_reported_failed_and_keeps_its_checkpoints(workspace, demo_model_dir, sample_dataset,
                                                                  tmp_path):
    run = RunDir(tmp_path / "run")
    process = start_training(train_command(workspace, sample_dataset, run.path, write_config(tmp_path),
                                           "--max-steps", "400"))
    try:
        wait_for(lambda: run.last_checkpoint() is not None, what="a checkpoint")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    status = run.status()
    assert status.state == "failed" and "ended unexpectedly" in status.error
    assert json.loads(run.files.status.read_text())["state"] == "failed"  # recorded, not only reported
    assert run.last_checkpoint() is not None and (run.last_checkpoint() / "adapter_model.safetensors").is_file()


def test_a_run_out_of_gpu_memory_before_its_first_checkpoint_tries_again_from_step_0(
        workspace, demo_model_dir, sample_dataset, tmp_path):
    """The likeliest out-of-memory comes in the first steps. A run that had layers skipping gradient
    checkpointing then starts over by itself, every layer checkpointed. The process dies for real here;
    the out-of-memory error itself is raised in the test, since there is no GPU."""
    import torch

    from tuning.launcher import train_command as launched_command
    from tuning.process import fail_from, relaunch, retry_after_out_of_memory

    run = RunDir(tmp_path / "run")
    config = write_config(tmp_path, save_steps=1000)
    process = start_training(train_command(workspace, sample_dataset, run.path, config, "--max-steps", "400"))
    try:
        wait_for(lambda: step_of(run) >= 1, what="step 1")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert run.last_checkpoint() is None
    run.write_status("running", pid=os.getpid(), unchecked_layers=14)  # as a GPU run records its plan
    fail_from(run, torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert "tries again by itself" in run.status().error and retry_after_out_of_memory(run)

    command = launched_command(str(sample_dataset), "demo", run.path, resume=True) + [
        "--workspace", str(workspace.root), "--max-steps", "4"]
    assert relaunch(command, run) == 0
    status = run.status()
    assert status.state == "completed" and status.step == 4 and status.resumed_from is None
    assert status.unchecked_layers == 0 and status.checkpoint_every_layer is True
    assert [row.step for row in run.metrics() if row.loss is not None] == [2, 4]  # the killed attempt's rows are gone
    assert "starting it over from step 0" in run.files.log.read_text()
    assert not retry_after_out_of_memory(run)
    run.write_status("failed", error="out of memory again")  # a second out-of-memory: no endless retries
    assert not retry_after_out_of_memory(run)
    run.write_status("running", pid=os.getpid(), unchecked_layers=14)
    fail_from(run, torch.cuda.OutOfMemoryError("CUDA out of memory"))
    run.write_status("running", pid=os.getpid(), unchecked_layers=0)  # what the next attempt writes first
    fail_from(run, torch.cuda.OutOfMemoryError("CUDA out of memory"))  # out of memory before it planned
    assert not retry_after_out_of_memory(run)


@pytest.mark.parametrize("values, message", [
    ({"lora_r": 0}, "lora_r"),
    ({"max_steps": 0}, "max_steps must be -1"),
    ({"target_modules": ["qkv"]}, "Llama models have no modules named qkv"),
    ({"load_in_4bit": True}, "4-bit loading (QLoRA) needs an NVIDIA GPU"),
    ({"optim": "adamw_8bit"}, "needs bitsandbytes on an NVIDIA GPU"),
    ({"backend": "unsloth"}, "Unsloth backend needs an NVIDIA GPU"),
])
def test_bad_configs_are_refused_before_anything_starts(workspace, sample_dataset, tmp_path, values, message):
    run_dir = tmp_path / "run"
    result = run_training(train_command(workspace, sample_dataset, run_dir, write_config(tmp_path, **values)))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (run_dir / "status.json").exists()


def test_a_missing_dataset_or_model_is_a_clear_message(workspace, tmp_path):
    result = run_training(train_command(workspace, tmp_path / "nope", tmp_path / "run", write_config(tmp_path)))
    assert result.returncode == 2 and "is not a prepared dataset" in result.stderr


def test_an_unavailable_base_model_fails_the_run_with_a_clear_message(workspace, sample_dataset, tmp_path):
    run = RunDir(tmp_path / "run")
    command = train_command(workspace, sample_dataset, run.path, write_config(tmp_path))
    command[command.index("demo")] = "nobody/no-such-model"
    result = run_training(command)
    assert result.returncode == 1
    status = run.status()
    assert status.state == "failed" and status.phase == "download"
    assert status.error.startswith("No network: 'nobody/no-such-model' is not downloaded yet")
    assert "use 'demo' or a local model folder" in status.error and "네트워크가 없습니다" in status.error_ko


def test_a_model_with_pickled_weights_only_is_refused(workspace, demo_model_dir, sample_dataset, tmp_path):
    pickled = tmp_path / "pickled-model"
    shutil.copytree(demo_model_dir, pickled)
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    run = RunDir(tmp_path / "run")
    command = train_command(workspace, sample_dataset, run.path, write_config(tmp_path))
    command[command.index("demo")] = str(pickled)
    result = run_training(command)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    status = run.status()
    assert "has no .safetensors weights" in status.error and "safetensors만 불러옵니다" in status.error_ko


def test_a_chat_template_run_learns_only_the_bot(workspace, demo_model_dir, sample_dataset, tmp_path):
    run = RunDir(tmp_path / "run")
    config = write_config(tmp_path, prompt_format="chat_template")
    result = run_training(train_command(workspace, sample_dataset, run.path, config, "--max-steps", "4"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(run.files.config.read_text())["loss_on"] == "bot"
    info = json.loads((run.files.adapter / "training.json").read_text())
    assert info["prompt"]["prompt_format"] == "chat_template" and info["prompt"]["end_tokens"] == [
        "<|eot_id|>", "<|end_of_text|>"]  # the demo's template ends a turn with <|eot_id|>


def test_the_readmes_recipe_file_works_as_a_config(workspace, demo_model_dir, sample_dataset, tmp_path):
    run = RunDir(tmp_path / "run")
    result = run_training(train_command(workspace, sample_dataset, run.path, ROOT / "tuning" / "recipes" / "demo_cpu.json",
                                        "--max-steps", "2"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert run.config().learning_rate == 0.002 and run.status().state == "completed"


def test_bad_input_files_end_in_one_clear_line_and_touch_nothing(workspace, demo_model_dir, sample_dataset, tmp_path):
    not_json = tmp_path / "config.json"
    not_json.write_text('{"learning_rate": 0.002,\n "max_length": }', encoding="utf-8")
    result = run_training(train_command(workspace, sample_dataset, tmp_path / "run", not_json))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{not_json}: not valid JSON (line 2, column 16" in result.stderr and len(result.stderr.splitlines()) == 1

    notes = tmp_path / "notes.txt"
    notes.write_text("my notes", encoding="utf-8")
    result = run_training(train_command(workspace, sample_dataset, notes, write_config(tmp_path)))
    assert result.returncode == 2 and "is a file" in result.stderr and "Traceback" not in result.stderr
    assert notes.read_text(encoding="utf-8") == "my notes" and not list(tmp_path.glob(".notes*"))

    broken = tmp_path / "broken-dataset"
    shutil.copytree(sample_dataset, broken)
    rows = (broken / "train.jsonl").read_text(encoding="utf-8").splitlines()
    rows[2] = rows[2][:40]  # a row cut short, as an editor or a full disk may leave it
    (broken / "train.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = RunDir(tmp_path / "broken-run")
    result = run_training(train_command(workspace, broken, run.path, write_config(tmp_path)))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert run.status().state == "failed" and "train.jsonl: line 3: not valid JSON" in run.status().error


def test_a_pid_now_used_by_another_process_is_not_the_run_and_is_never_signalled(tmp_path):
    """After a reboot or a container restart a run's recorded pid may belong to something else: the run
    reads as ended, and Stop sends that process nothing."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        for name, recorded in (("reused", {"pid": other.pid, "pid_started": 1}),  # the number, not the process
                               ("legacy", {"pid": other.pid})):  # written before start times were kept
            run = RunDir(tmp_path / name)
            run.path.mkdir()
            run.files.status.write_text(json.dumps({"state": "running", "step": 3, **recorded}), encoding="utf-8")
            run.request_stop()
            assert run.status().state == "stopped"  # a stop was asked for; the run's own process is gone
            run.files.stop.unlink()
            run.files.status.write_text(json.dumps({"state": "running", "step": 3, **recorded}), encoding="utf-8")
            assert run.status().state == "failed" and "ended unexpectedly" in run.status().error
        assert other.poll() is None  # never signalled
    finally:
        other.kill()
