"""Every family the app offers besides Llama (the demo), proven through the command lines a user runs,
on a tiny model of that architecture built here: data preparation with the family's tokenizer,
training (LoRA on the family's own projections), export with every quant verified, the GGUF LoRA,
the Modelfile with the family's own end-of-turn token, chat in both prompt formats, and Publish.
A family whose tokenizer has no chat template is refused that format before training, with the reason."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core import artifacts
from core.artifacts import QUANTS, ExportManifest
from core.runs import RunDir
from models.families import family_of_type
from tests.conftest import ROOT, SAMPLES
from tests.families import FAMILIES

END_OF_TURN = {"gpt_neox": None, "exaone4": "[|endofturn|]", "qwen2": "<|im_end|>", "gemma3_text": "<end_of_turn>"}


def cli(workspace, module: str, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "TUNER_WORKSPACE": str(workspace.root), "HF_HUB_OFFLINE": "1", "TUNER_LANG": "en"}
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)


def train(workspace, dataset, model_dir, run_dir, tmp_path, prompt_format: str, steps: int):
    config = tmp_path / f"config-{prompt_format}.json"
    config.write_text(json.dumps({"max_length": 256, "logging_steps": 2, "save_steps": 50, "warmup_steps": 2,
                                  "learning_rate": 0.003, "prompt_format": prompt_format}), encoding="utf-8")
    return cli(workspace, "tuning.train", "--dataset", dataset, "--base-model", model_dir, "--out", run_dir,
               "--config", config, "--max-steps", steps, "--workspace", workspace.root)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_goes_from_chat_logs_to_a_verified_gguf_and_a_reply(family, tiny_model, workspace, tmp_path):
    model_dir = tiny_model(family)
    dataset = tmp_path / "dataset"
    prepared = cli(workspace, "data.prepare", SAMPLES / "aihub_synthetic", "--out", dataset, "--tokenizer", model_dir,
                   "--max-length", 256)
    assert prepared.returncode == 0, prepared.stderr
    report = json.loads((dataset / "report.json").read_text(encoding="utf-8"))
    assert report["tokenizer"] == str(model_dir)
    from transformers import AutoTokenizer

    from data.chat_format import training_ids

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    first = json.loads((dataset / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["num_tokens"] == len(training_ids(first["text"], tokenizer))  # counted with the family's tokenizer

    run = RunDir(tmp_path / "run-lines")
    trained = train(workspace, dataset, model_dir, run.path, tmp_path, "lines", 6)
    assert trained.returncode == 0, trained.stderr[-3000:]
    config = run.config()
    assert config.target_modules == list(family_of_type(family).projections) and config.backend == "hf"
    contract = run.prompt_contract()
    end = END_OF_TURN[family]
    assert contract.prompt_format == "lines" and contract.end_tokens  # the tokenizer's own end-of-sequence token

    out = tmp_path / "export-lines"
    exported = cli(workspace, "inference.export", run.path, "--quant", *QUANTS, "--out", out, "--workspace",
                   workspace.root)
    assert exported.returncode == 0, exported.stdout + exported.stderr[-3000:]
    manifest = artifacts.read(out / "export.json", ExportManifest)
    assert manifest.verified and {result.kind for result in manifest.files} == {*QUANTS, "lora"}
    assert all(result.verification.tokenization_match for result in manifest.files)
    reply = cli(workspace, "inference.chat", out / "model-q4_k_m.gguf", "--prompt", "주말에 뭐해?", "--seed", "3",
                "--max-tokens", "24")
    assert reply.returncode == 0 and reply.stdout.strip(), reply.stderr
    on_base = cli(workspace, "inference.chat", out / "base-f16.gguf", "--lora", out / "lora-f16.gguf", "--prompt",
                  "오늘 점심 뭐 먹을래?", "--seed", "3", "--max-tokens", "16")
    assert on_base.returncode == 0, on_base.stderr

    from inference.publish import build_space

    space = build_space(out, "model-q4_k_m.gguf", tmp_path / "space")
    assert (space / "models" / "model-q4_k_m.gguf").is_file() and not (space / "tuning").exists()

    templated = RunDir(tmp_path / "run-template")
    trained = train(workspace, dataset, model_dir, templated.path, tmp_path, "chat_template", 4)
    if end is None:  # no chat template: refused before the run starts, with what to use instead
        assert trained.returncode == 2 and "has no chat template: use the prompt format 'lines'" in trained.stderr
        assert not templated.files.status.exists()
        return
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert templated.prompt_contract().end_tokens[0] == end  # the template's own end of turn, not Llama-3's
    out = tmp_path / "export-template"
    exported = cli(workspace, "inference.export", templated.path, "--quant", "q4_k_m", "--no-lora", "--out", out,
                   "--workspace", workspace.root)
    assert exported.returncode == 0, exported.stdout + exported.stderr[-3000:]
    assert f'PARAMETER stop "{end}"' in (out / "model-q4_k_m.Modelfile").read_text(encoding="utf-8")
    reply = cli(workspace, "inference.chat", out / "model-q4_k_m.gguf", "--prompt", "주말에 뭐해?", "--seed", "3",
                "--max-tokens", "24")
    assert reply.returncode == 0 and "<|im_start|>" not in reply.stdout and "[|" not in reply.stdout, reply.stderr


def test_a_model_that_could_not_be_exported_or_is_of_an_unproven_family_is_refused_before_training(
        tiny_model, workspace, sample_dataset, tmp_path):
    import shutil

    unknown_split = tmp_path / "whitespace-tokenizer"
    shutil.copytree(tiny_model("qwen2"), unknown_split)
    tokenizer_json = json.loads((unknown_split / "tokenizer.json").read_text(encoding="utf-8"))
    tokenizer_json["pre_tokenizer"] = {"type": "Whitespace"}  # splitting rules llama.cpp has no name for
    (unknown_split / "tokenizer.json").write_text(json.dumps(tokenizer_json), encoding="utf-8")
    run = RunDir(tmp_path / "run")
    refused = train(workspace, sample_dataset, unknown_split, run.path, tmp_path, "lines", 2)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    status = run.status()
    assert status.state == "failed" and status.phase == "prepare" and not run.metrics()  # no step was trained
    assert "could be trained, but not exported to GGUF" in status.error and "pre-tokenizer" in status.error

    unproven = tmp_path / "mistral"
    shutil.copytree(tiny_model("qwen2"), unproven)
    config = json.loads((unproven / "config.json").read_text(encoding="utf-8"))
    (unproven / "config.json").write_text(json.dumps({**config, "model_type": "mistral"}), encoding="utf-8")
    refused = train(workspace, sample_dataset, unproven, tmp_path / "run-2", tmp_path, "lines", 2)
    assert refused.returncode == 2 and "Models of type 'mistral' have not been proven with this app" in refused.stderr
