"""The evaluation end to end on the demo model: a real fine-tune (chat_export), its GGUF files through
the real llama.cpp, its checkpoints and merged model through transformers, on the held-out
conversations of the data it was tuned on."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from core import artifacts
from core.artifacts import Evaluation
from core.errors import UserError
from tests.conftest import ROOT


def evaluate_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inference.evaluate", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)


def test_a_fine_tune_beats_its_base_and_every_quant_is_scored_beside_the_merged_model(
        workspace, chat_export, sample_dataset, tmp_path):
    base, lora = chat_export / "base-f16.gguf", chat_export / "lora-f16.gguf"
    out = tmp_path / "evaluation"
    result = evaluate_cli("--dataset", str(sample_dataset), "--out", str(out), "--workspace", str(workspace.root),
                          "--limit", "4", "--max-new-tokens", "16", "--seed", "7",
                          "--model", str(base), "--model", str(chat_export / "merged"),
                          "--model", "export:chat-run-final/model-f16.gguf",
                          "--model", "export:chat-run-final/model-q4_k_m.gguf",
                          "--model", f"{base}+{lora}", "--model", "run:chat-run")
    assert result.returncode == 0, result.stderr[-3000:]
    evaluation = artifacts.read(out / "evaluation.json", Evaluation)
    raw = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    assert raw["schema_version"] >= 1 and raw["real_style"]["replies"] == 4
    by_label = {model.label: model for model in evaluation.models}
    # Files of the workspace carry the Chat tab's ids, so votes on them count together
    assert by_label["chat-run-final · q4_k_m"].id == "export:chat-run-final/model-q4_k_m.gguf"
    assert len(evaluation.models) == len(evaluation.requested) == 8  # 5 models + the run's 3 adapters

    base_loss = by_label["base · demo · f16 GGUF"].bot_loss
    merged = by_label["chat-run-final · merged (transformers)"]
    assert merged.bot_loss < base_loss, (merged.bot_loss, base_loss)
    for label in ("chat-run-final · f16", "chat-run-final · q4_k_m", "chat-run-final · LoRA on base"):
        model = by_label[label]
        assert model.engine == "gguf" and model.bot_tokens == merged.bot_tokens
        assert model.bot_loss < base_loss
    assert abs(by_label["chat-run-final · f16"].bot_loss - merged.bot_loss) < 0.02 * merged.bot_loss
    assert by_label["chat-run-final · q4_k_m"].bot_loss != by_label["chat-run-final · f16"].bot_loss

    checkpoints = [model for model in evaluation.models if model.run == "chat-run"]
    assert [model.step for model in checkpoints] == [5, 10, 10]
    assert [model.model for model in checkpoints] == ["run:chat-run/checkpoint-5", "run:chat-run/checkpoint-10",
                                                      "run:chat-run/final"]
    assert checkpoints[-1].bot_loss < base_loss

    for model in evaluation.models:
        assert len(model.replies) == len(evaluation.contexts) == 4
        assert model.loss_by_depth[0].depth == 1
        assert sum(depth.tokens for depth in model.loss_by_depth) == model.bot_tokens
        assert 0 <= model.style_distance <= 1 and model.style.replies == 4
    for context in evaluation.contexts:
        assert context.history[-1]["role"] == "user" and context.real_reply
    # The same seed draws the same contexts; the table names every model
    assert "bot loss" in result.stdout and "chat-run · checkpoint-5" in result.stdout
    status = json.loads((out / "status.json").read_text(encoding="utf-8"))
    assert status["state"] == "completed"


def test_bad_requests_get_one_clear_line(workspace, sample_dataset, tmp_path):
    missing = evaluate_cli("--dataset", str(sample_dataset), "--out", str(tmp_path / "a"),
                           "--workspace", str(workspace.root), "--model", str(tmp_path / "nothing.gguf"))
    assert missing.returncode == 1 and "No GGUF file" in missing.stderr and "Traceback" not in missing.stderr
    not_prepared = evaluate_cli("--dataset", str(tmp_path), "--out", str(tmp_path / "b"),
                                "--workspace", str(workspace.root), "--model", "base:demo")
    assert not_prepared.returncode == 1 and "not a prepared dataset" in not_prepared.stderr
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    into_a_file = evaluate_cli("--dataset", str(sample_dataset), "--out", str(a_file),
                               "--workspace", str(workspace.root), "--model", "base:demo")
    assert into_a_file.returncode == 1 and "is a file" in into_a_file.stderr


def wait_for(condition, timeout=300, every=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := condition()):
            return value
        time.sleep(every)
    raise AssertionError("timed out")


def test_an_evaluation_from_the_app_stops_keeping_the_models_it_finished_and_a_killed_one_says_so(
        workspace, chat_export, sample_dataset):
    from core.evaluations import EvaluationDir
    from inference import evaluate_jobs

    models = ["export:chat-run-final/model-q4_k_m.gguf", "base-gguf:demo", "run:chat-run"]
    target, command = evaluate_jobs.start(workspace, "sample", models, limit=40, seed=0, max_new_tokens=48, lang="en")
    assert command[1:3] == ["-m", "inference.evaluate"] and target.path.parent == workspace.evaluations
    assert evaluate_jobs.running(workspace) == [target]
    with pytest.raises(UserError, match="is running"):  # one at a time
        evaluate_jobs.start(workspace, "sample", models, limit=4, seed=0, max_new_tokens=8, lang="en")
    wait_for(lambda: (results := target.results()) is not None and len(results.models) >= 1)
    evaluate_jobs.stop(target)
    status = wait_for(lambda: (found := target.status()).state != "running" and found)
    assert status.state == "stopped"
    kept = target.results()
    assert 1 <= len(kept.models) < len(kept.requested) == 5
    assert kept.models[0].id == "export:chat-run-final/model-q4_k_m.gguf"

    killed, _ = evaluate_jobs.start(workspace, "sample", models, limit=40, seed=0, max_new_tokens=48, lang="ko")
    wait_for(lambda: (found := killed.status()) is not None and found.evaluating)
    os.kill(killed.status().pid, signal.SIGKILL)
    status = wait_for(lambda: (found := EvaluationDir(killed.path).status()).state != "running" and found)
    assert status.state == "failed" and "ended unexpectedly" in status.error and "예기치 않게" in status.error_ko


def test_a_group_chats_held_out_context_keeps_who_spoke():
    from core.artifacts import PromptContract
    from data.chat_format import history_lines, prompt_text

    history = [{"role": "user", "speaker": "user1", "content": "다들 퇴근했어?"},
               {"role": "user", "speaker": "user2", "content": "나 아직 회사ㅠㅠ"}]
    numbered = PromptContract(speakers="numbered", end_tokens=["</s>"])
    assert prompt_text(history_lines(history, numbered), numbered) == "user1: 다들 퇴근했어?\nuser2: 나 아직 회사ㅠㅠ\nbot:"
    blog = PromptContract(speakers="blog", end_tokens=["</s>"])
    assert prompt_text(history_lines(history, blog), blog) == "user: 다들 퇴근했어?\nuser: 나 아직 회사ㅠㅠ\nbot:"
