#!/usr/bin/env bash
# Creates or updates the project's virtualenv at .venv: CPU torch and no GPU packages on a machine
# without an NVIDIA GPU; a CUDA torch, requirements-gpu.txt and a CUDA llama.cpp on one with a GPU.
# Re-running is cheap: nothing is reinstalled while the requirement files are unchanged.
# Usage: scripts/setup.sh [--dev]   (--dev adds the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."

want_dev=0
[ "${1:-}" = "--dev" ] && want_dev=1

python_bin=${PYTHON:-python3}
"$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "Python 3.11 or newer is needed (found $("$python_bin" --version 2>&1))." >&2; exit 1; }

# TUNER_FLAVOUR=cpu|gpu overrides the detection (a Docker build has no GPU to detect).
flavour=${TUNER_FLAVOUR:-auto}
if [ "$flavour" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then flavour=gpu; else flavour=cpu; fi
fi
if [ "$flavour" = gpu ]; then
  torch_spec=(torch==2.14.1 torchvision==0.29.1)   # CUDA builds from PyPI; Unsloth needs torch<2.15
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_CUDA=on -DLLAVA_BUILD=OFF}"
else
  flavour=cpu
  torch_spec=(torch==2.13.0)                       # the CPU build
  export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}"
fi

req_files=(requirements.txt)
[ $flavour = gpu ] && req_files+=(requirements-gpu.txt)
[ $want_dev = 1 ] && req_files+=(requirements-dev.txt)
# Browser tests drive Debian's Chromium (Playwright's own browser download does not work offline),
# with Korean fonts so that screenshots show Hangul.
install_test_browser() {
  dpkg -s chromium fonts-noto-cjk >/dev/null 2>&1 && return
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "Installing Chromium and Korean fonts for the browser tests..."
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
}
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
for req in "${req_files[@]}"; do
  pip_install -r "$req" -c .venv/torch-constraint.txt
done
install_llama_cpp_converters
[ $want_dev = 1 ] && installed_dev=$dev_stamp
printf '%s\n%s\n' "$base_stamp" "$installed_dev" > "$stamp_file"
echo "Set-up done ($flavour)."
