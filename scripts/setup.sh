#!/usr/bin/env bash
# Creates or updates the project's virtualenv at .venv: CPU torch and no GPU packages on a machine
# without an NVIDIA GPU; a CUDA torch, requirements-gpu.txt and a CUDA llama.cpp on one with a GPU.
# Re-running is cheap: nothing is reinstalled while the requirement files are unchanged.
# Usage: scripts/setup.sh [--dev | --plan]   (--dev adds the test tools; --plan prints what would be
# installed, and how llama.cpp would be built, without installing anything)
set -euo pipefail
cd "$(dirname "$0")/.."

want_dev=0 plan_only=0
[ "${1:-}" = "--dev" ] && want_dev=1
[ "${1:-}" = "--plan" ] && plan_only=1

python_bin=${PYTHON:-python3}
"$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "Python 3.11 or newer is needed (found $("$python_bin" --version 2>&1))." >&2; exit 1; }

# TUNER_FLAVOUR=cpu|gpu overrides the detection (a Docker build has no GPU to detect).
flavour=${TUNER_FLAVOUR:-auto}
if [ "$flavour" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then flavour=gpu; else flavour=cpu; fi
fi
llama_version=$(sed -n 's/^llama-cpp-python==\([0-9.]*\).*/\1/p' requirements.txt)
# llama.cpp's AMX kernels crash on Sapphire Rapids-class CPUs (SIGSEGV in ggml_backend_amx_mul_mat on
# the first q8_0 or q4_k_m answer; seen here 2026-12-04, llama.cpp issue #20824, not fixed upstream): a
# build for this CPU (-march=native) leaves them out; the rest of its instructions (AVX-512) stay.
no_amx_args() {
  echo | "${CC:-cc}" -mno-amx-int8 -x c -E - >/dev/null 2>&1 \
    && echo " -DCMAKE_C_FLAGS=-mno-amx-int8 -DCMAKE_CXX_FLAGS=-mno-amx-int8"
  return 0
}
cpu_llama_args="-DLLAVA_BUILD=OFF$(no_amx_args)"
# TUNER_LLAMA_CPU=portable (the Dockerfile): an image runs on other machines than the one that built
# it, so llama.cpp is not built for this CPU (-march=native) but for x86-64-v3 (AVX2, FMA), which
# every x86 server of the last ten years runs (an explicit GGML_NATIVE=OFF alone turns AVX off too).
if [ "${TUNER_LLAMA_CPU:-native}" = portable ]; then
  cpu_llama_args="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF"
  [ "$(uname -m)" = x86_64 ] && cpu_llama_args+=" -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
fi
# A CUDA build of llama.cpp needs the CUDA compiler, which PyTorch's wheels do not bring: on a machine
# with the driver but no toolkit, llama.cpp is built for the CPU (training still uses the GPU).
cuda_compiler() {
  if [ -n "${CUDACXX:-}" ] && [ -x "$CUDACXX" ]; then echo "$CUDACXX"
  elif command -v nvcc >/dev/null 2>&1; then command -v nvcc
  elif [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then echo "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc"
  else return 1; fi
}
rebuild_hint="to chat on the GPU later, install the CUDA toolkit (nvcc) and run: CMAKE_ARGS=\"-DGGML_CUDA=on $cpu_llama_args\" .venv/bin/python -m pip install --force-reinstall --no-deps --no-cache-dir llama-cpp-python==$llama_version"
llama_build=cpu
if [ "$flavour" = gpu ]; then
  torch_spec=(torch==2.14.1 torchvision==0.29.1)   # CUDA builds from PyPI; Unsloth needs torch<2.15
  if [ -n "${CMAKE_ARGS:-}" ]; then
    llama_build=custom
  elif nvcc_path=$(cuda_compiler); then
    export CUDACXX=$nvcc_path
    export CMAKE_ARGS="-DGGML_CUDA=on $cpu_llama_args"
    llama_build=cuda
  else
    export CMAKE_ARGS=$cpu_llama_args
    echo "No CUDA compiler (nvcc) here: llama.cpp is built for the CPU; training uses the GPU, chat and export run on the CPU; $rebuild_hint"
  fi
else
  flavour=cpu
  torch_spec=(torch==2.13.0)                       # the CPU build
  export CMAKE_ARGS="${CMAKE_ARGS:-$cpu_llama_args}"
fi

req_files=(requirements.txt)
[ $flavour = gpu ] && req_files+=(requirements-gpu.txt)
[ $want_dev = 1 ] && req_files+=(requirements-dev.txt)
# Browser tests drive Debian's Chromium (Playwright's own browser download does not work offline),
# with Korean and emoji fonts so that screenshots show Hangul and the vote buttons' emoji.
install_test_browser() {
  dpkg -s chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null 2>&1 && return
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "Installing Chromium, Korean and emoji fonts for the browser tests..."
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null
}
if [ $plan_only = 1 ]; then
  echo "flavour: $flavour"
  echo "torch: ${torch_spec[*]}"
  echo "requirements: ${req_files[*]}"
  echo "llama.cpp: $llama_build build (CMAKE_ARGS=$CMAKE_ARGS${CUDACXX:+, CUDACXX=$CUDACXX})"
  exit 0
fi
[ $want_dev = 1 ] && install_test_browser

# What is installed, line 1: the app's requirements; line 2: the test tools. A plain set-up (run.sh)
# is satisfied by an environment that also has the test tools, so it never reinstalls.
base_files=(requirements.txt)
[ $flavour = gpu ] && base_files+=(requirements-gpu.txt)
base_stamp="$flavour $(cat "${base_files[@]}" scripts/setup.sh | sha256sum | cut -c1-16)"
dev_stamp="dev $(sha256sum < requirements-dev.txt | cut -c1-16)"
stamp_file=.venv/.installed
installed_base=$(sed -n 1p "$stamp_file" 2>/dev/null || true)
installed_dev=$(sed -n 2p "$stamp_file" 2>/dev/null || true)
converters=.venv/share/llama.cpp
if [ "$installed_base" = "$base_stamp" ] && { [ $want_dev = 0 ] || [ "$installed_dev" = "$dev_stamp" ]; } \
   && [ -f $converters/models/ggml-vocab-llama-bpe.gguf ]; then
  exit 0
fi

# llama.cpp's own GGUF converters (convert_hf_to_gguf.py, convert_lora_to_gguf.py, gguf-py), taken
# from the sdist of the installed llama-cpp-python, so they match the library that loads the files;
# and llama.cpp's copy of the Llama-3 vocabulary (models/ggml-vocab-llama-bpe.gguf), which the tests
# use to prove that a real Llama-3 tokenizer converts.
install_llama_cpp_converters() {
  local version tmp
  version=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')
  [ -f $converters/models/ggml-vocab-llama-bpe.gguf ] && [ "$(cat $converters/.version 2>/dev/null)" = "$version" ] && return
  tmp=$(mktemp -d)
  .venv/bin/python -m pip download --disable-pip-version-check -q --no-deps --no-binary :all: \
    "llama-cpp-python==$version" -d "$tmp"
  tar -xzf "$tmp"/llama_cpp_python-*.tar.gz -C "$tmp" --wildcards \
    '*/vendor/llama.cpp/convert_hf_to_gguf.py' '*/vendor/llama.cpp/convert_lora_to_gguf.py' \
    '*/vendor/llama.cpp/gguf-py' '*/vendor/llama.cpp/conversion' \
    '*/vendor/llama.cpp/models/ggml-vocab-llama-bpe.gguf'
  rm -rf $converters && mkdir -p "$(dirname $converters)"
  mv "$tmp"/llama_cpp_python-*/vendor/llama.cpp $converters
  echo "$version" > $converters/.version
  rm -rf "$tmp"
}

[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
pip_install() { .venv/bin/python -m pip install --disable-pip-version-check -q "$@"; }

echo "Setting up .venv for $flavour (first time: about 6 minutes, most of it compiling llama.cpp)..."
pip_install --upgrade pip wheel
pip_install "${torch_spec[@]}"
# Keep every later install on the torch just installed (a bare 'torch' requirement would pull CUDA).
.venv/bin/python -c 'import importlib.metadata as m; print("torch==" + m.version("torch"))' > .venv/torch-constraint.txt
# llama.cpp is compiled on its own, first: again whenever how it is built changes (pip's wheel cache
# would hand back a build made with other flags for the same version).
install_llama_cpp() {
  local how="$llama_version ${CMAKE_ARGS:-} ${CUDACXX:-}"
  [ "$(cat .venv/.llama-build 2>/dev/null)" = "$how" ] && return
  pip_install --force-reinstall --no-deps --no-cache-dir "llama-cpp-python==$llama_version"
  echo "$how" > .venv/.llama-build
}
if ! install_llama_cpp; then
  # A CUDA build of llama.cpp that fails (a toolkit too old or too new for this compiler) must not
  # strand the set-up: build it for the CPU, and say how to try CUDA again.
  [ $llama_build = cuda ] || exit 1
  echo "llama.cpp did not build with CUDA here: building it for the CPU instead; $rebuild_hint"
  export CMAKE_ARGS=$cpu_llama_args
  unset CUDACXX
  install_llama_cpp
fi
for req in "${req_files[@]}"; do
  pip_install -r "$req" -c .venv/torch-constraint.txt
done
install_llama_cpp_converters
[ $want_dev = 1 ] && installed_dev=$dev_stamp
printf '%s\n%s\n' "$base_stamp" "$installed_dev" > "$stamp_file"
echo "Set-up done ($flavour)."
