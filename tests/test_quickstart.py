"""What "Try it with the sample" trains (inference.quickstart.sample_recipe): the demo on a CPU; on a
GPU, the smallest preset of the Train tab's list that fits it and is already in the Hugging Face cache
(a short QLoRA run), else the demo; and the page is told which, and why."""
from __future__ import annotations

import json

import pytest
from huggingface_hub import constants

from core.workspace import Workspace
from inference import quickstart
from tuning.config import Hardware

RTX_4090 = Hardware(cuda=True, gpu_name="NVIDIA GeForce RTX 4090", gpu_memory_gib=24.0, bf16_supported=True)
SMALL = "naver-hyperclovax/HyperCLOVAX-SEED-Text-Instruct-0.5B"
LARGER = "EleutherAI/polyglot-ko-1.3b"
TOO_LARGE = "beomi/Llama-3-Open-Ko-8B"


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache; `add(model_id)` puts a model's files in it as a download would."""
    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))

    def add(model_id: str, weights: bool = True) -> None:
        commit = "0" * 40
        repo = cache / f"models--{model_id.replace('/', '--')}"
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(commit)
        (snapshot / "config.json").write_text(json.dumps({"model_type": "llama"}))
        if weights:
            (snapshot / "model.safetensors").write_bytes(b"\0" * 16)

    return add


@pytest.fixture
def sample_workspace(workspace, sample_dataset) -> Workspace:
    return workspace


def test_a_cpu_tries_the_demo(sample_workspace, hub_cache):
    hub_cache(SMALL)
    config, note = quickstart.sample_recipe(sample_workspace, Hardware(cuda=False))
    assert config.base_model == "demo" and "No NVIDIA GPU" in str(note) and "NVIDIA GPU 없음" in note.ko


def test_a_gpu_tries_the_smallest_cached_preset_and_says_so(sample_workspace, hub_cache):
    hub_cache(TOO_LARGE)
    hub_cache(LARGER)
    hub_cache(SMALL)
    config, note = quickstart.sample_recipe(sample_workspace, RTX_4090)
    assert config.base_model == SMALL and config.max_steps == quickstart.GPU_STEPS
    assert config.load_in_4bit is not False and "HyperCLOVA X SEED 0.5B" in str(note) and "캐시" in note.ko
    state = quickstart.QuickstartState(stage="chat", run="try-sample", export="try-sample-final", base_model=SMALL)
    assert quickstart.pair(state) == (f"base-hf:{SMALL}", "export:try-sample-final/model-q4_k_m.gguf")


def test_a_gpu_without_a_small_cached_model_tries_the_demo_and_says_why(sample_workspace, hub_cache):
    hub_cache(TOO_LARGE)               # cached, but not small
    hub_cache(SMALL, weights=False)    # only its config was fetched
    config, note = quickstart.sample_recipe(sample_workspace, RTX_4090)
    assert config.base_model == "demo" and "No small base model" in str(note) and "데모 모델" in note.ko
    assert quickstart.pair(quickstart.QuickstartState(stage="chat", run="r", export="e"))[0] == quickstart.DEMO_BASE
