# The app on port 7860, its workspace in /data/workspace.
#   FLAVOUR=gpu (default): on the CUDA base image, CUDA PyTorch, Unsloth and a CUDA build of llama.cpp.
#     docker build -t tuner . && docker run --gpus all -p 7860:7860 -v tuner:/data tuner
#   FLAVOUR=cpu: the CPU build of PyTorch and llama.cpp, on any Debian or Ubuntu base with Python 3.11+.
#     PyPI's torch is the CUDA build (several GB); put the CPU wheel in wheels/ first:
#     pip download torch==2.13.0 --no-deps --index-url https://download.pytorch.org/whl/cpu -d wheels/
#     docker build --build-arg FLAVOUR=cpu --build-arg BASE=python:3.11-slim-bookworm -t tuner-cpu .
# Any wheel in wheels/ is preferred to the package index during the set-up.
ARG BASE=nvidia/cuda:12.8.1-devel-ubuntu24.04
FROM ${BASE}
ARG FLAVOUR=gpu
ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 GRADIO_ANALYTICS_ENABLED=False \
    TUNER_WORKSPACE=/data/workspace TUNER_HOST=0.0.0.0 TUNER_PORT=7860
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-dev \
        build-essential cmake ninja-build git && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements*.txt ./
COPY scripts/ scripts/
COPY wheels/ /wheels/
# No GPU is visible while the image builds, so the flavour is asked for explicitly; llama.cpp is built
# for any x86-64-v3 CPU, not for the CPU that builds the image.
RUN PIP_FIND_LINKS=/wheels TUNER_FLAVOUR=${FLAVOUR} TUNER_LLAMA_CPU=portable PYTHON=python3 bash scripts/setup.sh \
    && rm -rf /root/.cache/pip
# The app only (not wheels/, tests or benchmarks).
COPY app.py README.md ./
COPY core/ core/
COPY models/ models/
COPY data/ data/
COPY tuning/ tuning/
COPY inference/ inference/
COPY ui/ ui/
EXPOSE 7860
CMD [".venv/bin/python", "app.py"]
