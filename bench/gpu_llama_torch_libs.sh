#!/usr/bin/env bash
# Can llama.cpp's CUDA build share a process with PyTorch when it is linked against the CUDA libraries
# PyTorch itself loads (its pip `nvidia` packages) instead of the system toolkit's? Carry .whl, .llama, .gpu:
#   bash bench/gpu_llama_torch_libs.sh
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl .llama/diskcache-*.whl || exit 1
export PYTHONPATH=/tmp/llama:/tmp/site:$PWD
nvidia=$(python3 -c "import nvidia; print(list(nvidia.__path__)[0])")
libs=$(dirname "$(find "$nvidia" -name 'libcublas.so.*' | head -1)")
includes=$(find "$nvidia" -name cublas_api.h -printf '%h\n' | head -1)
python3 -m pip list 2>/dev/null | grep -i -E "^(nvidia-(cublas|cuda-runtime)|torch |cuda-toolkit)" | tee "$out/versions.txt"
echo "torch's CUDA libraries: $libs; headers: $includes" | tee -a "$out/versions.txt"
ls "$libs" | tee -a "$out/versions.txt"
started=$SECONDS
CMAKE_ARGS="-DGGML_CUDA=on -DLLAVA_BUILD=OFF -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DCUDA_cublas_LIBRARY=$libs/libcublas.so.13 -DCUDA_cublasLt_LIBRARY=$libs/libcublasLt.so.13 \
  -DCUDA_cudart_LIBRARY=$libs/libcudart.so.13 -DCMAKE_CUDA_FLAGS=-I$includes -DCMAKE_CXX_FLAGS=-I$includes \
  -DCMAKE_BUILD_RPATH=$libs -DCMAKE_INSTALL_RPATH=$libs" \
  python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/llama \
  .llama/llama_cpp_python-*.tar.gz > /tmp/build.log 2>&1
echo "llama.cpp CUDA build against torch's libraries rc=$? in $(( SECONDS - started )) s" | tee "$out/build.log"
tail -5 /tmp/build.log >> "$out/build.log"
ldd /tmp/llama/llama_cpp/lib/libggml-cuda.so* 2>/dev/null | grep -E "cublas|cudart" | tee -a "$out/build.log"
timeout 120 python3 bench/llama_cuda_check.py --gguf .gpu/demo-q4_k_m.gguf --out "$out" 2>&1 | head -8
