#!/usr/bin/env bash
# Chat and evaluation on CUDA llama.cpp, in one device call (carry .whl, .llama, .gpu):
#   bash bench/gpu_chat_cuda.sh [CMAKE_EXTRA]
# 1. llama-cpp-python built with CUDA (and CMAKE_EXTRA, default -DGGML_OPENMP=OFF) while the 8B-shape
#    model is made and converted to f16 GGUF by the project's converter;
# 2. bench/llama_cuda_check.py on the demo GGUF: can llama.cpp's CUDA build share a process with torch?
# 3. if the project's own chat command works there: q4_k_m, then bench/gpu_inference.py chat (app engine
#    against llama-cpp-python directly, Compare, the budget's refusal) and the evaluation of q4_k_m and f16.
set -uo pipefail
extra=${1:--DGGML_OPENMP=OFF}
out=${OUT:-/tmp/out}
mkdir -p "$out"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 PYTHONFAULTHANDLER=1
python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl .llama/diskcache-*.whl || exit 1
export PYTHONPATH=/tmp/llama:/tmp/site:$PWD
mkdir -p /tmp/llsrc && tar -xzf .llama/llama_cpp_python-*.tar.gz -C /tmp/llsrc
export TUNER_LLAMA_CONVERTERS=$(ls -d /tmp/llsrc/*/vendor/llama.cpp | head -1)
(
  started=$(date +%s)
  CMAKE_ARGS="-DGGML_CUDA=on -DLLAVA_BUILD=OFF -DCMAKE_CUDA_ARCHITECTURES=90 $extra" \
    python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/llama \
    .llama/llama_cpp_python-*.tar.gz > /tmp/build.log 2>&1
  echo "llama.cpp CUDA build ($extra) rc=$? in $(( $(date +%s) - started )) s" >> /tmp/build.log
) &
builder=$!
python3 bench/evaluation_time.py gpu-model --work /tmp/ev 2>&1 | tail -2
wait $builder
tail -2 /tmp/build.log | tee "$out/build.log"
python3 bench/llama_cuda_check.py --gguf .gpu/demo-q4_k_m.gguf --out "$out" 2>&1 | head -5
python3 -c "
import json, sys; checked = json.load(open('$out/llama_cuda_check.json'))
sys.exit(checked['python -m inference.chat']['returncode'])" || { echo "the project's chat fails on CUDA"; exit 0; }
mkdir -p /tmp/gi/export && ln -sf /tmp/ev/model-f16.gguf /tmp/gi/export/model-f16.gguf
ln -sfn /tmp/llama3-8b-shape /tmp/gi/export/merged
python3 -c "
import time; from pathlib import Path; from inference import llama
clock = time.perf_counter(); llama.quantize(Path('/tmp/gi/export/model-f16.gguf'), Path('/tmp/gi/export/model-q4_k_m.gguf'), 'q4_k_m', threads=16)
print(f'quantize q4_k_m {time.perf_counter() - clock:.1f} s')" 2>&1 | tail -1 | tee "$out/quantize.log"
left() { echo $(( 585 - SECONDS )); }
timeout $(( $(left) / 2 > 60 ? $(left) / 2 : 60 )) python3 bench/evaluation_time.py gpu --from-export /tmp/gi/export \
  --work /tmp/ev --out "$out" 2>&1 | tail -12
timeout $(left) python3 bench/gpu_inference.py chat --work /tmp/gi --out "$out" 2>&1 | grep -v "^Loading" | tail -8
ls -la "$out"
