# Sourced by the GPU benches that chat on CUDA llama.cpp (carry .whl and .llama): the project's wheels
# and llama.cpp's own converters on the path, and build_llama_cuda LOG [CMAKE_EXTRA...], which
# compiles llama-cpp-python with CUDA into /tmp/llama (run it in the background while a model is made).
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 PYTHONFAULTHANDLER=1
python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl .llama/diskcache-*.whl || exit 1
export PYTHONPATH=/tmp/llama:/tmp/site:$PWD
mkdir -p /tmp/llsrc && tar -xzf .llama/llama_cpp_python-*.tar.gz -C /tmp/llsrc
TUNER_LLAMA_CONVERTERS=$(ls -d /tmp/llsrc/*/vendor/llama.cpp | head -1)
export TUNER_LLAMA_CONVERTERS

build_llama_cuda() {
  local log=$1 started
  shift
  started=$(date +%s)
  CMAKE_ARGS="-DGGML_CUDA=on -DLLAVA_BUILD=OFF -DCMAKE_CUDA_ARCHITECTURES=90 $*" \
    python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/llama \
    .llama/llama_cpp_python-*.tar.gz > "$log" 2>&1
  echo "llama.cpp CUDA build ($*) rc=$? in $(( $(date +%s) - started )) s" >> "$log"
}
