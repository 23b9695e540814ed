"""The Dockerfile, built and run as a user would: the CPU flavour on a Debian base (no registry here:
tests/container.py), started with `-p PORT:7860 -v VOLUME:/data`, and a chat through the running app
with the demo fine-tune's GGUF dropped into the workspace volume."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from gradio_client import Client

from data.chat_format import message_text
from tests import container
from tests.app_server import free_port
from tests.conftest import ROOT

IMAGE = "localhost/korean-chat-tuner-cpu"
WORK = Path(os.environ.get("PODMAN_WORK", "/tmp/podman-work"))  # podman's storage: layers cached between runs
SETTINGS = [0.7, 0.9, 40, 1.1, 48, 3]  # temperature, top-p, top-k, repetition penalty, max new tokens, seed


def build_context(folder):
    """The repository's files (as git lists them) and, in wheels/, the CPU build of PyTorch that pip
    finds for this machine (PyPI's torch is the CUDA build)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        source = ROOT / name
        if source.is_file() and not name.startswith("wheels/"):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(source.read_bytes())
    (folder / "wheels").mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "torch==2.13.0", "-d",
                    str(folder / "wheels")], check=True, capture_output=True)
    wheels = [path.name for path in (folder / "wheels").glob("torch-*.whl")]
    assert wheels and "+cpu" in wheels[0], f"pip found no CPU build of torch here: {wheels}"
    return folder


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    if (reason := container.available()) is not None:
        pytest.skip(reason)
    container.install()
    env = container.podman_env(WORK)
    base = container.ensure_base(env, WORK)
    context = build_context(tmp_path_factory.mktemp("docker-context"))
    container.podman(env, "build", "--pull=never", "--build-arg", f"BASE={base}", "--build-arg", "FLAVOUR=cpu",
                     "-t", IMAGE, str(context), timeout=2400)
    return env


@pytest.mark.timeout(3000)  # the image's first build compiles llama.cpp: about 13 minutes on 2 cores
def test_the_cpu_image_starts_as_a_user_would_and_chats(image, chat_export):
    env, name, volume = image, f"tuner-{uuid.uuid4().hex[:8]}", f"tuner-data-{uuid.uuid4().hex[:8]}"
    with container.running(env, IMAGE, free_port(), volume, name) as url:
        torch_build = container.podman(env, "exec", name, ".venv/bin/python", "-c",
                                       "import torch, llama_cpp; print(llama_cpp.llama_print_system_info().decode()); "
                                       "print(torch.__version__)")
        assert torch_build.stdout.strip().endswith("+cpu")
        if platform.machine() == "x86_64":  # built for any x86-64-v3 CPU, not for the one that built the image
            assert "AVX2 = 1" in torch_build.stdout and "AVX512 = 1" not in torch_build.stdout, torch_build.stdout
        container.podman(env, "cp", str(chat_export / "model-q4_k_m.gguf"), f"{name}:/data/workspace/models/demo.gguf")
        history, stats, _ = Client(url, verbose=False).predict("file:models/demo.gguf", "퇴근하고 뭐 할 거야?", [],
                                                                *SETTINGS, api_name="/chat")
    assert history[0]["role"] == "user" and history[-1]["role"] == "assistant"
    assert message_text(history[-1]["content"]).strip()
    assert "tok/s" in stats
