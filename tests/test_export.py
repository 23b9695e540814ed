"""Export of a demo run: merged model, GGUF in every format, each verified against the merged model;
the export as a job (status, stop, one at a time per run) and bad output paths."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from core.artifacts import ExportManifest, PromptContract
from core.exports import ExportDir
from core.runs import RunDir
from inference import llama
from inference.verify import GREEDY_TOKENS, Reference
from tests.conftest import ROOT
from tests.test_training import run_training, train_command, write_config


@pytest.fixture(scope="module")
def demo_run(workspace, demo_model_dir, sample_dataset, tmp_path_factory) -> RunDir:
    folder = tmp_path_factory.mktemp("export-run")
    run = RunDir(folder / "run")
    result = run_training(train_command(workspace, sample_dataset, run.path, write_config(folder), "--max-steps", "10"))
    assert result.returncode == 0, result.stderr[-2000:]
    return run


def export_command(workspace, run, out, *extra):
    return [sys.executable, "-m", "inference.export", str(run.path), "--out", str(out),
            "--workspace", str(workspace.root), *extra]


@pytest.fixture(scope="module")
def exported(workspace, demo_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "out"
    result = subprocess.run(export_command(workspace, demo_run, out, "--quant", "f16", "q8_0", "q4_k_m", "q6_k"),
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return out, json.loads((out / "export.json").read_text())


def test_every_format_is_written_verified_and_described(exported):
    out, summary = exported
    kinds = {f["kind"]: f for f in summary["files"]}
    assert set(kinds) == {"f16", "q8_0", "q4_k_m", "q6_k", "lora"} and summary["verified"]
    for kind, result in kinds.items():
        verification = result["verification"]
        assert verification["passed"] and verification["tokenization_match"], (kind, verification)
        assert (out / result["file"]).stat().st_size == result["size_bytes"]
        assert json.loads((out / result["file"]).with_suffix(".verify.json").read_text()) == verification
    assert kinds["f16"]["verification"]["max_abs_diff_last"] < 0.05
    assert kinds["f16"]["verification"]["greedy_match"] and kinds["lora"]["verification"]["greedy_match"]
    assert kinds["q4_k_m"]["size_bytes"] < kinds["q8_0"]["size_bytes"] < kinds["f16"]["size_bytes"]
    assert (out / "merged" / "model.safetensors").is_file() and (out / "merged" / "tokenizer.json").is_file()
    assert set(summary["timings"]) == {"merge_s", "convert_s", "quantize_s", "verify_s", "lora_s"}


def contract_of(out) -> PromptContract:
    return ExportManifest.model_validate_json((out / "export.json").read_text()).prompt


def test_the_export_job_reports_its_progress_in_its_folder(exported):
    out, _ = exported
    status = ExportDir(out).status()
    assert status.state == "completed" and status.phase == "done" and status.share == 1.0 and status.run == "run"
    assert "[100%] done" in (out / "export.log").read_text(encoding="utf-8")


def test_f16_generates_what_the_merged_model_generates(exported):
    out, _ = exported
    reference = Reference(out / "merged", contract_of(out))
    with llama.load(out / "model-f16.gguf") as llm:
        for ids, expected in zip(reference.ids, reference.greedy):
            assert llm.greedy(ids, GREEDY_TOKENS) == expected


def test_the_lora_gguf_on_the_base_gguf_answers_like_the_merged_f16(exported):
    out, _ = exported
    reference = Reference(out / "merged", contract_of(out))
    with llama.load(out / "model-f16.gguf") as merged, \
            llama.load(out / "base-f16.gguf", lora_path=out / "lora-f16.gguf") as with_lora, \
            llama.load(out / "base-f16.gguf") as base:
        answers = [tuple(model.greedy(ids, GREEDY_TOKENS) for model in (merged, with_lora, base))
                   for ids in reference.ids]
    assert all(merged_answer == lora_answer for merged_answer, lora_answer, _ in answers)
    assert any(merged_answer != base_answer for merged_answer, _, base_answer in answers)  # the adapter matters


def test_modelfiles_carry_the_training_prompt_format_and_stops(exported):
    out, _ = exported
    modelfile = (out / "model-q4_k_m.Modelfile").read_text()
    assert modelfile.startswith("FROM ./model-q4_k_m.gguf") and 'PARAMETER stop "\\nuser"' in modelfile
    assert "bot: {{ .Content }}" in modelfile
    lora_modelfile = (out / "lora-f16.Modelfile").read_text()
    assert lora_modelfile.startswith("FROM ./base-f16.gguf\nADAPTER ./lora-f16.gguf")


def test_an_interrupted_export_leaves_no_finished_looking_file(workspace, demo_run, tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen(export_command(workspace, demo_run, out, "--quant", "f16"), cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:
        if "convert" in line:
            time.sleep(3)  # inside llama.cpp's converter, writing the f16 file
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert not list(out.glob("model-*.gguf")) and not (out / "export.json").exists()
    status = ExportDir(out).status()  # the job's process died without saying so: it reads as failed
    assert status.state == "failed" and "ended unexpectedly" in status.error


def test_a_stopped_export_ends_at_its_next_step_and_a_second_export_of_the_run_waits(workspace, demo_run, tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen(export_command(workspace, demo_run, out, "--quant", "f16", "q8_0"), cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
    for line in process.stdout:
        if "merge" in line:
            break
    second = subprocess.run(export_command(workspace, demo_run, tmp_path / "second", "--quant", "q8_0"), cwd=ROOT,
                            capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert second.returncode == 1 and "An export of this run is already running" in second.stderr
    ExportDir(out).request_stop()
    assert process.wait(timeout=300) == 0
    status = ExportDir(out).status()
    assert status.state == "stopped" and not (out / "export.json").exists()


def test_an_out_that_names_a_file_or_a_folder_of_other_files_is_refused(workspace, demo_run, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me", encoding="utf-8")
    result = subprocess.run(export_command(workspace, demo_run, notes), cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1 and "is a file" in result.stderr and "Traceback" not in result.stderr
    assert notes.read_text(encoding="utf-8") == "keep me"
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"jpeg")
    result = subprocess.run(export_command(workspace, demo_run, other), cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1 and "already holds other files" in result.stderr
    assert sorted(p.name for p in other.iterdir()) == ["cat.jpg"]


def test_a_missing_checkpoint_is_a_clear_message(workspace, demo_run, tmp_path):
    result = subprocess.run(export_command(workspace, demo_run, tmp_path / "out", "--checkpoint", "checkpoint-999"),
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1 and "has no checkpoint checkpoint-999" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_export_refused_before_it_began_says_why_in_its_status(workspace, demo_run, tmp_path):
    """The app marks an export running with its process's pid at launch; a process that then finds another
    export of the run holding the lock ends it as failed with that reason, not as 'ended unexpectedly'."""
    from core.jobs import exclusive
    from inference.export import BUSY

    out = tmp_path / "out"
    target = ExportDir(out)
    with exclusive(demo_run.files.export_lock, BUSY):  # another export of this run, under way
        process = subprocess.Popen(export_command(workspace, demo_run, out, "--quant", "q8_0"), cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env={**os.environ, "HF_HUB_OFFLINE": "1"})
        out.mkdir()
        target.write_status("running", pid=process.pid, run="run", phase="start")
        assert process.wait(timeout=300) == 1
    status = target.status()
    assert status.state == "failed" and "An export of this run is already running" in status.error


def test_export_folder_names_allow_a_long_run_name(workspace):
    run_name = "r" * 64
    assert workspace.export(workspace.export_name(run_name, "checkpoint-12000")).name.endswith("-checkpoint-12000")
