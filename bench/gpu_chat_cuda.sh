#!/usr/bin/env bash
# Chat on CUDA llama.cpp with an untrained 8B-shape model, in one device call (carry .whl, .llama, .gpu):
#   bash bench/gpu_chat_cuda.sh [CMAKE_EXTRA]
# 1. llama-cpp-python built with CUDA (and CMAKE_EXTRA) while the 8B-shape model (random weights) is
#    made and converted to f16 GGUF by the project's converter;
# 2. bench/llama_cuda_check.py on the demo GGUF: which process set-ups load llama.cpp's CUDA build,
#    the project's chat command (a process with torch, llama.cpp in its worker) among them;
# 3. q4_k_m, then bench/gpu_inference.py chat: the app engine against llama-cpp-python directly, and
#    Compare with the budget refusing f16 while both answer (an untrained model answers to the token
#    limit, so both are still answering when f16 is asked for; a trained one may end first);
# 4. with the time left, the evaluation of q4_k_m and f16.
set -uo pipefail
extra=${1:-}
out=${OUT:-/tmp/out}
mkdir -p "$out"
source bench/gpu_llama_cuda.sh
build_llama_cuda /tmp/build.log $extra &
builder=$!
python3 bench/evaluation_time.py gpu-model --work /tmp/ev 2>&1 | tail -2
wait $builder
tail -2 /tmp/build.log | tee "$out/build.log"
timeout 90 python3 bench/llama_cuda_check.py --gguf .gpu/demo-q4_k_m.gguf --out "$out" 2>&1 | head -12
mkdir -p /tmp/gi/export && ln -sf /tmp/ev/model-f16.gguf /tmp/gi/export/model-f16.gguf
ln -sfn /tmp/llama3-8b-shape /tmp/gi/export/merged
python3 -c "
import time; from pathlib import Path; from inference import llama
clock = time.perf_counter(); llama.quantize(Path('/tmp/gi/export/model-f16.gguf'), Path('/tmp/gi/export/model-q4_k_m.gguf'), 'q4_k_m', threads=16)
print(f'quantize q4_k_m {time.perf_counter() - clock:.1f} s')" 2>&1 | tail -1 | tee "$out/quantize.log"
left() { echo $(( ${BUDGET_S:-585} - SECONDS )); }
timeout $(left) python3 bench/gpu_inference.py chat --work /tmp/gi --repeats 3 --out "$out" 2>&1 | grep -v "^Loading" | tail -8
timeout $(left) python3 bench/evaluation_time.py gpu --from-export /tmp/gi/export --work /tmp/ev --out "$out" 2>&1 | tail -12
ls -la "$out"
