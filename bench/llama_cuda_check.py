"""Which process set-ups can load llama.cpp's CUDA build and generate: llama.cpp alone, with PyTorch
imported (and its CUDA started) before it, with PyTorch imported after it, and the project's own chat
command. Each runs in a process of its own; a crash is recorded with its signal and the CUDA and
OpenMP libraries the process had mapped. On the lent GPU, 2026-12-03, with torch in the process the
8B chat, export and evaluation processes ended with SIGSEGV as llama.cpp loaded a model.

    python3 bench/llama_cuda_check.py --gguf MODEL.gguf [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LOAD_AND_GENERATE = """
import llama_cpp
llm = llama_cpp.Llama(GGUF_PATH, n_gpu_layers=-1, n_ctx=256, verbose=False)
tokens = []
for token in llm.generate(llm.tokenize(b"hello"), temp=0.0):
    tokens.append(token)
    if len(tokens) == 8:
        break
print("TOKENS", tokens, flush=True)
llm.close()
"""
LIBRARIES = """
import re
mapped = sorted({line.split()[-1] for line in open("/proc/self/maps")
                 if re.search(r"(cublas|cudart|gomp|omp5|ggml|libcuda)[^/]*$", line.split()[-1])})
print("MAPPED", mapped, flush=True)
"""
TORCH_CUDA = "import torch\ntorch.zeros(1, device='cuda')\n"
VARIANTS = {
    "llama.cpp alone": LOAD_AND_GENERATE + LIBRARIES,
    "torch imported first, llama_cpp imported only": "import torch\nimport llama_cpp\n" + LIBRARIES,
    "torch alone": "import torch\n" + TORCH_CUDA + LIBRARIES,
    "torch imported first, CUDA not started": "import torch\n" + LOAD_AND_GENERATE + LIBRARIES,
    "torch imported first, CUDA started": TORCH_CUDA + LOAD_AND_GENERATE + LIBRARIES,
    "torch after llama.cpp": LOAD_AND_GENERATE + TORCH_CUDA + LIBRARIES,
}


def run(code: str) -> dict:
    finished = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code], capture_output=True, text=True,
                              timeout=300, cwd=ROOT)
    lines = finished.stdout.splitlines()
    return {"returncode": finished.returncode,
            "tokens": next((line.removeprefix("TOKENS ") for line in lines if line.startswith("TOKENS")), None),
            "mapped": next((line.removeprefix("MAPPED ") for line in lines if line.startswith("MAPPED")), None),
            "stderr_tail": finished.stderr[-1500:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    gguf = str(Path(args.gguf).resolve())
    results = {name: run(code.replace("GGUF_PATH", repr(gguf))) for name, code in VARIANTS.items()}
    chat = subprocess.run([sys.executable, "-X", "faulthandler", "-m", "inference.chat", gguf, "--prompt", "안녕"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    results["python -m inference.chat"] = {"returncode": chat.returncode, "stdout_tail": chat.stdout[-300:],
                                           "stderr_tail": chat.stderr[-1500:]}
    for name, result in results.items():
        print(f"{name}: rc {result['returncode']} tokens {result.get('tokens')}", flush=True)
    text = json.dumps(results, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "llama_cuda_check.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
