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
