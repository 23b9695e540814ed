#!/usr/bin/env bash
# Compare's memory budget on CUDA llama.cpp, in one short device call (carry .whl, .llama, .gpu):
#   bash bench/gpu_compare_refusal.sh
# llama-cpp-python is built with CUDA but without its FlashAttention kernels (the quickest build;
# the budget decision does not depend on the attention kernels) while the 8B-shape model (random
# weights) is made and converted to f16 and q8_0 at once; then bench/gpu_inference.py compare: two
# q8_0 files answering together under a 24 GB card's budget and f16 asked for while both answer.
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
source bench/gpu_llama_cuda.sh
build_llama_cuda "$out/build.log" -DGGML_CUDA_FA=OFF &
builder=$!
python3 bench/evaluation_time.py gpu-model --work /tmp/gi/export --kinds f16 q8_0 2>&1 | tail -2 | tee "$out/model.log"
wait $builder
tail -2 "$out/build.log"
python3 bench/gpu_inference.py compare --pair q8_0 --max-tokens 512 --work /tmp/gi --out "$out" 2>&1 | grep -v "^Loading" | tail -4
ls -la "$out"
