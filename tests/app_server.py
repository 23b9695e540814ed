"""Starts the real app (`python app.py`) on a free local port for tests that drive it."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 120
# Debian's Chromium, offline: Playwright's own browser download does not work here.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_app(workspace_dir: Path, *extra_args: str, as_readme: bool = False, env_extra: dict | None = None):
    """The app on a free port; `as_readme` starts it the way README.md says (`bash scripts/run.sh`)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = Path(workspace_dir).parent / f"app-{port}.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    if as_readme:  # offline must be the default, not a setting the tests add
        for setting in ("GRADIO_ANALYTICS_ENABLED", "HF_HUB_OFFLINE"):
            env.pop(setting, None)
    env.update(env_extra or {})
    with log_path.open("w") as log:
        launcher = ["bash", "scripts/run.sh"] if as_readme else [sys.executable, "app.py"]
        process = subprocess.Popen(
            [*launcher, "--host", "127.0.0.1", "--port", str(port), "--workspace", str(workspace_dir), *extra_args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(url, process, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
            kill_training_processes(Path(workspace_dir))


@contextmanager
def running_demo_app(workspace_dir: Path, demo_model_dir: Path, *extra_args: str, **options):
    """running_app() on a workspace that already holds the demo model (copied, as the app would build it)."""
    from tests.conftest import seed_demo_model

    seed_demo_model(demo_model_dir, workspace_dir)
    with running_app(workspace_dir, *extra_args, **options) as url:
        yield url


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def kill_training_processes(workspace_dir: Path) -> None:
    """Training runs outlive the app by design; a test must not leave one running."""
    for status_path in workspace_dir.glob("runs/*/status.json"):
        status = json.loads(status_path.read_text(encoding="utf-8"))
        if status.get("state") == "running" and isinstance(status.get("pid"), int):
            try:
                os.kill(status["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the app did not start within {START_TIMEOUT_S} s:\n{log_path.read_text()}")
