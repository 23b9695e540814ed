#!/usr/bin/env bash
# Issue 17's GPU figures on the lent H200, in two device calls that follow each other on one warm
# machine (its /tmp lasts 30 s after a call). Carry .whl, .llama and .gpu (../shared/gpu/README.md;
# .gpu from `python bench/gpu_training.py prepare` here).
#
#   bash bench/gpu_first_day.sh train   # llama.cpp built with CUDA on cores 4-15 (niced) while the
#                                       # training comparison runs pinned to cores 0-3 on chat-length
#                                       # rows (FULL_ROWS=1: also on full 1024-token rows)
#   bash bench/gpu_first_day.sh infer   # export of the project run, chat, Compare, 4-bit
#                                       # transformers chat, and the evaluation of the export
#
# (The CUDA build is 240 MB compressed: it cannot come back from a call to be carried to the next.)
set -uo pipefail
phase=${1:?usage: gpu_first_day.sh train|infer}
out=${OUT:-/tmp/out}
state=/tmp/first-day            # what the second call reads from the first
mkdir -p "$out" "$state"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 PYTHONFAULTHANDLER=1

if [ ! -d /tmp/site ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl .llama/diskcache-*.whl || exit 1
fi
export PYTHONPATH=/tmp/llama:/tmp/site:$PWD
sdist=$(ls -d /tmp/llsrc/*/vendor/llama.cpp 2>/dev/null | head -1)
if [ -z "$sdist" ]; then
  mkdir -p /tmp/llsrc && tar -xzf .llama/llama_cpp_python-*.tar.gz -C /tmp/llsrc
  sdist=$(ls -d /tmp/llsrc/*/vendor/llama.cpp | head -1)
fi
export TUNER_LLAMA_CONVERTERS=$sdist

if [ "$phase" = train ]; then
  if [ ! -d /tmp/llama/llama_cpp ]; then
    (
      started=$(date +%s)
      CMAKE_ARGS="-DGGML_CUDA=on -DLLAVA_BUILD=OFF -DCMAKE_CUDA_ARCHITECTURES=90" CMAKE_BUILD_PARALLEL_LEVEL=12 \
        taskset -c 4-15 nice -n 19 python3 -m pip install -q --no-index --no-deps --no-build-isolation \
        --target /tmp/llama .llama/llama_cpp_python-*.tar.gz > "$state/build.log" 2>&1
      echo "llama.cpp CUDA build rc=$? in $(( $(date +%s) - started )) s" >> "$state/build.log"
    ) &
    builder=$!
  fi
  taskset -c 0-3 python3 bench/gpu_training.py compare --datasets sample --out "$out" 2>&1 | tee "$out/train.log"
  if [ "${FULL_ROWS:-0}" = 1 ]; then
    taskset -c 0-3 python3 bench/gpu_training.py compare --datasets full-1024 \
      --variants "unsloth 8x1 packing" "project defaults, 24 GB plan" --out "$state" 2>&1 | tee -a "$out/train.log"
    cp "$state"/gpu_training_compare-*.json "$out/gpu_training_compare_full-1024.json" 2>/dev/null
  fi
  cp "$out"/gpu_training_compare-*.json "$state/sample.json" 2>/dev/null
  [ -n "${builder:-}" ] && wait "$builder"
  cat "$state/build.log" | tail -5
  ls -la "$out"
  exit 0
fi

# infer: the project's 24 GB-plan run on the chat-length sample, trained by the call before
run=$(python3 -c "
import json; rows = json.load(open('$state/sample.json'))
print(next(row['run_dir'] for row in rows if row['variant'] == 'project defaults, 24 GB plan' and 'run_dir' in row))")
[ -d "$run" ] || { echo "no trained run from the train call: $run"; exit 1; }
python3 -c "import llama_cpp; assert llama_cpp.llama_supports_gpu_offload(), 'no CUDA llama.cpp'" || exit 1
work=/tmp/gi
left() { echo $(( ${BUDGET_S:-585} - SECONDS )); }
python3 bench/gpu_inference.py export --run "$run" --work $work --out "$out" 2>&1 | tail -20 | tee "$out/infer.log"
timeout $(( $(left) / 3 )) python3 bench/gpu_inference.py chat --work $work --repeats 3 --out "$out" 2>&1 \
  | grep -v "^Loading" | tail -20 | tee -a "$out/infer.log"
timeout $(( $(left) / 2 )) python3 bench/evaluation_time.py gpu --from-export $work/export --work /tmp/ev --out "$out" 2>&1 \
  | tail -30 | tee -a "$out/infer.log"
timeout $(left) python3 bench/gpu_inference.py hf-chat --run "$run" --repeats 3 --out "$out" 2>&1 | tail -20 \
  | tee -a "$out/infer.log"
ls -la "$out"
