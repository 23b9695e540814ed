"""The synthetic sample bundled with the project, copied into the workspace so it can be picked there."""
from __future__ import annotations

import shutil
from pathlib import Path

from core.workspace import Workspace

SAMPLE_DIR = Path(__file__).resolve().parent / "samples"
AIHUB_SAMPLE = "samples/aihub_synthetic"
KAKAO_SAMPLE = "samples/kakao"


def install_sample(workspace: Workspace) -> Path:
    """Copies the bundled sample to `workspace/samples` (once; the user's edits there are kept)."""
    target = workspace.root / "samples"
    if not target.exists():
        shutil.copytree(SAMPLE_DIR, target)
    return target


SAMPLE_DATASET = "sample"


def ensure_sample_dataset(workspace: Workspace) -> None:
    """On a workspace with no dataset yet, prepares the bundled AI Hub sample as `sample`, so the
    Train tab works out of the box."""
    if not workspace.dataset_names():
        sample_dataset(workspace)


def sample_dataset(workspace: Workspace) -> Path:
    """The bundled AI Hub sample prepared as `sample` (now, if it is not there yet)."""
    target = workspace.dataset_dir(SAMPLE_DATASET)
    if not (target / "train.jsonl").is_file():
        from data.prepare import PrepareConfig, prepare, write
        from models.resolve import load_tokenizer

        config = PrepareConfig(inputs=[str(SAMPLE_DIR / "aihub_synthetic")])
        write(prepare(config, load_tokenizer(config.tokenizer, workspace)), target, config, config.tokenizer)
    return target
