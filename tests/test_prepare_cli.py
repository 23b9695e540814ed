"""`python -m data.prepare` as users and scripts call it: files written, report, bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT, SAMPLES, write_aihub


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_prepare(workspace, *args):
    env = {**os.environ, "TUNER_WORKSPACE": str(workspace.root), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "data.prepare", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_prepares_the_bundled_sample(workspace, tmp_path):
    out = tmp_path / "prepared"
    result = run_prepare(workspace, SAMPLES / "aihub_synthetic", SAMPLES / "kakao", "--out", out,
                         "--speakers", "numbered", "--val-ratio", "0.1", "--seed", "3")
    assert result.returncode == 0, result.stderr
    train, val = read_jsonl(out / "train.jsonl"), read_jsonl(out / "val.jsonl")
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert len(train) + len(val) == report["counts"]["train_examples"] + report["counts"]["val_examples"]
    assert report["counts"]["conversations_kept"] >= 150 and len(val) >= 15
    assert {row["messages"][0]["speaker"] for row in train} <= {"user1", "user2", "bot"}
    assert {f["format"] for f in report["files"]} == {"aihub", "kakao"}
    assert report["config"]["speakers"] == "numbered" and report["tokenizer"] == "demo"
    assert "train /" in result.stdout


def test_cli_keeps_going_past_broken_files_and_lists_them(workspace, tmp_path):
    inputs = tmp_path / "inputs"
    write_aihub(inputs / "good.json", [(1, "안녕"), (2, "반가워")])
    (inputs / "broken.json").write_text("{not json", encoding="utf-8")
    (inputs / "binary.txt").write_bytes(bytes(range(256)) * 10)
    out = tmp_path / "out"
    result = run_prepare(workspace, inputs, "--out", out, "--val-ratio", "0")
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    skipped = {s["source"].rsplit("/", 1)[-1]: s["reason"] for s in report["skipped_files"]}
    assert set(skipped) == {"broken.json", "binary.txt"}
    assert "broken JSON" in skipped["broken.json"] and "skipped broken.json" not in result.stdout
    assert len(read_jsonl(out / "train.jsonl")) == 1


def test_cli_fails_with_a_reason_when_nothing_usable_was_found(workspace, tmp_path):
    folder = tmp_path / "nothing"
    folder.mkdir()
    (folder / "readme.md").write_text("hello", encoding="utf-8")
    result = run_prepare(workspace, folder, "--out", tmp_path / "out")
    assert result.returncode == 1
    assert "No usable conversation was found" in result.stderr and "not a chat file type" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_refuses_invalid_options_without_a_traceback(workspace, tmp_path):
    result = run_prepare(workspace, SAMPLES / "kakao", "--out", tmp_path / "out", "--val-ratio", "1.5")
    assert result.returncode == 2 and "val_ratio" in result.stderr and "Traceback" not in result.stderr


def test_cli_with_an_unavailable_tokenizer_says_so(workspace, tmp_path):
    result = run_prepare(workspace, SAMPLES / "kakao", "--out", tmp_path / "out", "--tokenizer", "nobody/no-such-model")
    assert result.returncode == 1 and "Could not load the tokenizer" in result.stderr
    assert "Traceback" not in result.stderr


def test_rewriting_a_dataset_replaces_it_whole(workspace, tmp_path):
    out = tmp_path / "ds"
    assert run_prepare(workspace, SAMPLES / "kakao", "--out", out).returncode == 0
    first = (out / "train.jsonl").read_text(encoding="utf-8")
    assert run_prepare(workspace, SAMPLES / "kakao", "--out", out, "--speakers", "numbered").returncode == 0
    assert (out / "train.jsonl").read_text(encoding="utf-8") != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no temporary leftovers


def test_an_out_that_names_a_file_or_someone_elses_folder_is_refused_and_left_alone(workspace, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("내 메모", encoding="utf-8")
    result = run_prepare(workspace, SAMPLES / "kakao", "--out", notes)
    assert result.returncode == 1 and f"{notes} is a file" in result.stderr and "Traceback" not in result.stderr
    assert notes.read_text(encoding="utf-8") == "내 메모" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "diary.txt").write_text("일기", encoding="utf-8")
    result = run_prepare(workspace, SAMPLES / "kakao", "--out", documents)
    assert result.returncode == 1 and "already holds other files" in result.stderr
    assert sorted(p.name for p in documents.iterdir()) == ["diary.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["documents", "notes.txt"]  # nothing moved aside
