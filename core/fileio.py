"""Atomic writes: a reader never sees a half-written file, and a crash never leaves one behind."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

from core.errors import UserError


@contextmanager
def atomic_path(target: Path):
    """Yields a temporary path beside `target`; renames it over `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp_name)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except OSError as err:
        raise _as_user_error(err, target) from err
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: Path, obj) -> None:
    write_text(target, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def write_jsonl(target: Path, rows: Iterable[dict]) -> int:
    count = 0
    with atomic_path(target) as tmp, tmp.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_json(path: Path, default=None):
    """A JSON file that is not a contract between stages (those go through core.artifacts)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return default


@contextmanager
def atomic_dir(target: Path, replaces: Callable[[Path], bool] = lambda folder: False):
    """Yields a temporary folder beside `target`; it replaces `target` only if the block succeeds.

    An existing `target` must be a folder that is empty or that `replaces(target)` recognises as one
    this stage wrote before (a dataset, a Space): a user's file or folder is never moved aside."""
    target = Path(target)
    check_replaceable(target, replaces)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp_dir
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp_dir, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp_dir, target)
    except OSError as err:
        raise _as_user_error(err, target) from err
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def check_replaceable(target: Path, replaces: Callable[[Path], bool] = lambda folder: False) -> None:
    """Refuses, before any work, an output path that names a file or a folder of someone else's."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UserError(f"{target} is a file: the output must be a folder. Choose a new folder name.",
                        ko=f"{target}은(는) 파일입니다. 출력은 폴더여야 합니다. 새 폴더 이름을 고르세요.")
    if target.is_dir() and any(target.iterdir()) and not replaces(target):
        raise UserError(f"{target} already holds other files; it would be replaced. Choose a new or empty folder.",
                        ko=f"{target}에 이미 다른 파일이 있어 덮어쓰게 됩니다. 새 폴더나 빈 폴더를 고르세요.")


def _as_user_error(err: OSError, target: Path) -> UserError:
    if err.errno == 28:  # ENOSPC
        return UserError(f"The disk is full: could not write {target}. Free some space and try again.",
                         ko=f"디스크가 가득 찼습니다. {target}에 쓰지 못했습니다. 공간을 확보한 뒤 다시 시도하세요.")
    return UserError(f"Could not write {target}: {err.strerror or err}",
                     ko=f"{target}에 쓰지 못했습니다: {err.strerror or err}")
