"""The workspace folder: the only place the app keeps state (datasets, runs, exports, votes)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError

DEFAULT_WORKSPACE = "workspace"
WORKSPACE_ENV = "TUNER_WORKSPACE"
_SAFE_NAME = re.compile(r"^[\w가-힣][\w가-힣.\-]{0,63}$")


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, root: str | os.PathLike | None = None) -> "Workspace":
        chosen = root or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE
        workspace = cls(Path(chosen).expanduser().resolve())
        for folder in (workspace.uploads, workspace.datasets, workspace.runs, workspace.exports, workspace.models):
            folder.mkdir(parents=True, exist_ok=True)
        return workspace

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def models(self) -> Path:
        return self.root / "models"

    def dataset_dir(self, name: str) -> Path:
        return self.datasets / check_name(name)

    def dataset_names(self) -> list[str]:
        return sorted(p.name for p in self.datasets.iterdir() if (p / "train.jsonl").is_file())

    def inside(self, path: str | os.PathLike) -> Path:
        """Resolves a user-given path and refuses one that leaves the workspace."""
        resolved = (self.root / path).resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise UserError(f"{path} is outside the workspace ({self.root}); only paths inside it can be used.",
                            ko=f"{path}은(는) 작업 폴더({self.root}) 밖에 있습니다. 작업 폴더 안의 경로만 쓸 수 있습니다.")
        return resolved


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not _SAFE_NAME.match(name):
        raise UserError(
            f"'{name}' is not a usable name: use letters, digits, Hangul, '-', '_' or '.', "
            "start with a letter or digit, at most 64 characters.",
            ko=f"'{name}'은(는) 쓸 수 없는 이름입니다. 영문자, 숫자, 한글, '-', '_', '.'만 쓸 수 있고, "
               "글자나 숫자로 시작하는 64자 이하의 이름이어야 합니다.",
        )
    return name
