"""Who can reach the app and what it serves: --auth keeps strangers out, and only the workspace's
files (and the app's own assets) are served, whatever path a request names."""
from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import httpx
import pytest
from gradio_client import Client

from tests.app_server import running_demo_app
from tests.conftest import ROOT

USER, PASSWORD = "minji", "s3cret-pass"
UPLOAD_LIMIT = "64kb"


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture(scope="module")
def app(tmp_path_factory, demo_model_dir):
    workspace_dir = tmp_path_factory.mktemp("access") / "workspace"
    with running_demo_app(workspace_dir, demo_model_dir, env_extra={"TUNER_MAX_UPLOAD": UPLOAD_LIMIT}) as url:
        yield url, workspace_dir


def test_only_files_inside_the_workspace_are_served(app, tmp_path):
    url, workspace_dir = app
    inside = workspace_dir / "exports" / "note.txt"
    inside.write_text("안녕", encoding="utf-8")
    outside = tmp_path / "secret.txt"
    outside.write_text("not for the web", encoding="utf-8")
    file_url = lambda path: f"{url}gradio_api/file={urllib.parse.quote(str(path))}"  # noqa: E731
    assert status_of(file_url(inside)) == 200
    for path in (outside, "/etc/passwd", ROOT / "app.py", workspace_dir / ".." / "secret.txt",
                 f"{workspace_dir}/../../{tmp_path.name}/secret.txt"):
        assert status_of(file_url(path)) in (403, 404), path


def test_auth_keeps_out_anyone_without_the_password(tmp_path, demo_model_dir):
    with running_demo_app(tmp_path / "workspace", demo_model_dir, "--auth", f"{USER}:{PASSWORD}") as url:
        with pytest.raises(Exception):
            Client(url, verbose=False).view_api(print_info=False)
        with pytest.raises(Exception):
            Client(url, auth=(USER, "wrong"), verbose=False)
        api = Client(url, auth=(USER, PASSWORD), verbose=False).view_api(print_info=False, return_format="dict")
        assert "/chat" in api["named_endpoints"]


def test_a_malformed_auth_setting_is_refused_with_its_form(tmp_path):
    result = subprocess.run([sys.executable, "app.py", "--auth", "minji", "--workspace", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "user:password" in result.stderr


def test_uploads_over_the_size_limit_are_refused(app, tmp_path):
    url, _ = app
    small = httpx.post(f"{url}gradio_api/upload", files={"files": ("small.txt", "가".encode() * 1000)}, timeout=30)
    assert small.status_code == 200 and small.json()[0].endswith("small.txt")
    large = httpx.post(f"{url}gradio_api/upload", files={"files": ("large.txt", b"x" * 200_000)}, timeout=30)
    assert large.status_code == 413, large.text
