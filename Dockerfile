# GPU image: CUDA PyTorch, the GPU requirements and a CUDA build of llama.cpp; the app on port 7860.
FROM nvidia/cuda:12.8.1-devel-ubuntu24.04
ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 GRADIO_ANALYTICS_ENABLED=False \
    TUNER_WORKSPACE=/data/workspace TUNER_HOST=0.0.0.0 TUNER_PORT=7860
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-dev \
        build-essential cmake ninja-build git && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements*.txt ./
COPY scripts/ scripts/
# No GPU is visible while the image builds, so ask for the GPU set-up explicitly.
RUN TUNER_FLAVOUR=gpu PYTHON=python3 bash scripts/setup.sh
COPY . .
EXPOSE 7860
CMD [".venv/bin/python", "app.py"]
