"""scripts/setup.sh on a GPU machine, as far as it can be shown without downloading GPU wheels: which
torch, requirements and llama.cpp build it picks (with and without a CUDA compiler), and that the
pinned GPU requirements resolve together with the pinned CUDA torch (pip's resolver, metadata only)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

NO_CUDA = {"PATH": "/usr/bin:/bin", "CUDA_HOME": "/nonexistent"}


def compiler_can_leave_out_amx() -> bool:
    return subprocess.run(["cc", "-mno-amx-int8", "-x", "c", "-E", "-"], input="", capture_output=True).returncode == 0


CPU_ARGS = "-DLLAVA_BUILD=OFF" + (" -DCMAKE_C_FLAGS=-mno-amx-int8 -DCMAKE_CXX_FLAGS=-mno-amx-int8"
                                  if compiler_can_leave_out_amx() else "")


def plan(**env) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in ("CMAKE_ARGS", "CUDACXX")}
    return subprocess.run(["bash", "scripts/setup.sh", "--plan"], cwd=ROOT, capture_output=True, text=True,
                          env={**clean, **env}, timeout=60)


def test_a_gpu_machine_without_a_cuda_compiler_gets_llama_cpp_for_the_cpu_and_one_line_on_how_to_rebuild(tmp_path):
    without = plan(TUNER_FLAVOUR="gpu", **NO_CUDA)
    assert without.returncode == 0, without.stderr
    lines = without.stdout.splitlines()
    assert lines[0].startswith("No CUDA compiler (nvcc) here: llama.cpp is built for the CPU")
    assert f'CMAKE_ARGS="-DGGML_CUDA=on {CPU_ARGS}"' in lines[0] and "llama-cpp-python==0.3.36" in lines[0]
    assert "torch: torch==2.14.1" in without.stdout and "requirements-gpu.txt" in without.stdout
    assert f"llama.cpp: cpu build (CMAKE_ARGS={CPU_ARGS})" in without.stdout

    nvcc = tmp_path / "bin" / "nvcc"
    nvcc.parent.mkdir()
    nvcc.write_text("#!/bin/sh\n")
    nvcc.chmod(0o755)
    with_nvcc = plan(TUNER_FLAVOUR="gpu", **{**NO_CUDA, "PATH": f"{nvcc.parent}:/usr/bin:/bin"})
    assert f"llama.cpp: cuda build (CMAKE_ARGS=-DGGML_CUDA=on {CPU_ARGS}, CUDACXX={nvcc})" in with_nvcc.stdout
    assert "No CUDA compiler" not in with_nvcc.stdout

    cpu = plan(TUNER_FLAVOUR="cpu")
    assert "torch: torch==2.13.0" in cpu.stdout and "requirements-gpu.txt" not in cpu.stdout

    image = plan(TUNER_FLAVOUR="cpu", TUNER_LLAMA_CPU="portable")  # as the Dockerfile asks
    assert "-DGGML_NATIVE=OFF" in image.stdout and "-mno-amx-int8" not in image.stdout


def test_the_installed_llama_cpp_leaves_out_the_amx_kernels_that_crash():
    """llama.cpp's AMX matrix kernels end the process on Sapphire Rapids-class CPUs (llama.cpp #20824;
    every q8_0 and q4_k_m answer on this project's CI machines with AMX): the set-up builds without them."""
    import llama_cpp

    if compiler_can_leave_out_amx():
        assert "AMX_INT8 = 1" not in llama_cpp.llama_print_system_info().decode()
    assert (Path(sys.prefix) / ".llama-build").read_text().split()[0] == "0.3.36"  # as built by the set-up


def test_the_pinned_gpu_requirements_resolve_with_the_cuda_torch(tmp_path):
    """pip's resolver on the GPU set-up's exact requirements (metadata only; nothing is installed)."""
    report = tmp_path / "report.json"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                             "--disable-pip-version-check", "--report", str(report), "torch==2.14.1",
                             "torchvision==0.29.1", "-r", "requirements.txt", "-r", "requirements-gpu.txt"],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    resolved = {item["metadata"]["name"].lower(): item["metadata"]["version"]
                for item in json.loads(report.read_text())["install"]}
    assert resolved["torch"] == "2.14.1" and resolved["xformers"] == "0.0.35"
    assert resolved["unsloth"] == "2026.10.9" and resolved["bitsandbytes"] == "0.50.2"
    assert resolved["transformers"] == "5.17.0" and resolved["trl"] == "1.15.0"
    gpu_lines = [line.split("#")[0].strip() for line in (ROOT / "requirements-gpu.txt").read_text().splitlines()]
    assert all("==" in line for line in gpu_lines if line), "every GPU package is pinned"
