"""Shared fixtures: a temporary workspace, the demo tokenizer built in it, and small file builders."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core.workspace import Workspace  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"


@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> Workspace:
    return Workspace.open(tmp_path_factory.mktemp("workspace"))


@pytest.fixture(scope="session")
def demo_tokenizer(workspace):
    from models.resolve import load_tokenizer

    return load_tokenizer("demo", workspace)


def aihub_document(lines: list[tuple[int, str]], subject: str = "식음료", with_norm_text: bool = True) -> dict:
    """An AI Hub "주제별 텍스트 일상 대화 데이터" document with these (speaker number, text) lines."""
    speakers = {n: {"id": f"{n}번", "sex": "여성", "age": "20대"} for n, _ in lines}
    annotated = []
    for index, (speaker, text) in enumerate(lines, start=1):
        line = {"id": str(index), "text": f"{speaker} : {text}", "speaker": speakers[speaker], "speechAct": ""}
        if with_norm_text:
            line["norm_text"] = text
        annotated.append(line)
    return {"numberOfItems": 1, "info": [{"id": "T", "annotations": {"subject": subject, "lines": annotated}}]}


def write_aihub(path: Path, lines: list[tuple[int, str]], **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(aihub_document(lines, **kwargs), ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def demo_model_dir(workspace) -> Path:
    from models.demo import ensure_demo_model

    return ensure_demo_model(workspace)


@pytest.fixture(scope="session")
def sample_dataset(workspace, demo_tokenizer) -> Path:
    """The bundled AI Hub sample, prepared as the Dataset tab would, saved in the test workspace."""
    from data.prepare import PrepareConfig, prepare, write

    config = PrepareConfig(inputs=[str(SAMPLES / "aihub_synthetic")], val_ratio=0.05)
    return write(prepare(config, demo_tokenizer), workspace.dataset_dir("sample"), config, "demo")


def seed_demo_model(demo_model_dir: Path, workspace_dir: Path) -> None:
    """Copies the already-built demo model into another workspace (it would build the same files)."""
    import shutil

    target = Path(workspace_dir) / "models" / "demo"
    if not target.exists():
        shutil.copytree(demo_model_dir, target)


@pytest.fixture(scope="session")
def chat_export(workspace, demo_model_dir, sample_dataset) -> Path:
    """A demo run of the session workspace ("chat-run", checkpoints every 5 steps) exported as q4_k_m and
    f16, with its GGUF LoRA and the base as GGUF: what the Chat tab lists."""
    import subprocess
    import sys

    from core.artifacts import ExportRequest
    from inference.export import export

    run_dir = workspace.runs / "chat-run"
    config = run_dir.parent / "chat-run-config.json"
    config.write_text(json.dumps({"max_length": 256, "logging_steps": 2, "save_steps": 5, "warmup_steps": 2,
                                  "learning_rate": 0.002}), encoding="utf-8")
    command = [sys.executable, "-m", "tuning.train", "--dataset", str(sample_dataset), "--base-model", "demo",
               "--out", str(run_dir), "--config", str(config), "--workspace", str(workspace.root), "--max-steps", "10"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    out_dir = workspace.exports / "chat-run-final"
    manifest = export(ExportRequest(run_dir=str(run_dir), quants=["f16", "q4_k_m"], out_dir=str(out_dir)), workspace)
    assert manifest.verified, manifest
    return out_dir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """tiny_model(family) -> a folder with a tiny model of that family (tests/families.py), built once."""
    from tests.families import build

    built: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("families")

    def folder(family: str) -> Path:
        if family not in built:
            built[family] = build(family, root / family)
        return built[family]

    return folder
