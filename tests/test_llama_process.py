"""llama.cpp in worker processes (models.llama_process): a process that chats with a GGUF file never
loads llama.cpp itself, so it can hold PyTorch too (their CUDA builds crash a shared process); an
answer stopped half way leaves the worker ready for the next; a worker that dies is reported, not hung on."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from core.errors import UserError
from inference.chat import GenerationSettings, ModelCache, chat_stream, gguf_spec, side_by_side
from models.demo import ensure_demo_gguf
from tests.conftest import ROOT

MESSAGE = [{"role": "user", "content": "주말에 뭐해?"}]


def test_a_process_with_torch_chats_through_a_worker_without_loading_llama_cpp(chat_export):
    script = f"""
import os, sys
import torch
from core.errors import UserError
from inference.chat import GenerationSettings, ModelCache, chat_stream, gguf_spec
model = ModelCache().get(gguf_spec({str(chat_export / "model-q4_k_m.gguf")!r}))
reply = list(chat_stream(model, {MESSAGE!r}, GenerationSettings(seed=3, max_new_tokens=24)))[-1]
assert reply.done and reply.tokens > 0 and reply.error is None, reply
assert "llama_cpp" not in sys.modules and model.llm.process.pid != os.getpid()
print(reply.text)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip(), done.stderr


def test_an_answer_stopped_half_way_leaves_the_worker_ready(chat_export):
    cache = ModelCache()
    model = cache.get(gguf_spec(chat_export / "model-q4_k_m.gguf"))
    settings = GenerationSettings(seed=5, temperature=1.0, max_new_tokens=200)
    full = list(chat_stream(model, MESSAGE, settings))[-1]
    stream = model.stream_raw("user: 주말에 뭐해?\nbot:", settings, 5)
    first = [next(stream) for _ in range(3)]
    stream.close()  # the page stopped reading: the worker stops writing, and answers the next request
    assert all(isinstance(piece, str) for piece in first)
    again = list(chat_stream(model, MESSAGE, settings))[-1]
    assert again.text == full.text and again.tokens == full.tokens
    cache.close()
    with pytest.raises(UserError, match="just unloaded"):  # a model closed under a session says so
        model.tokenize("user: 안녕")


def test_a_worker_killed_while_answering_ends_the_answer_with_the_reason(workspace, demo_model_dir):
    cache = ModelCache()
    model = cache.get(gguf_spec(ensure_demo_gguf(workspace)))
    # an answer of the demo base long enough to be still under way when its worker is stopped
    settings = next(settings for seed in range(40)
                    if list(chat_stream(model, MESSAGE, settings := GenerationSettings(
                        seed=seed, temperature=1.5, max_new_tokens=1000)))[-1].tokens >= 100)
    answer = chat_stream(model, MESSAGE, settings)
    assert next(answer).tokens >= 1
    os.kill(model.llm.process.pid, signal.SIGSTOP)  # a few tokens in: held, then killed
    os.kill(model.llm.process.pid, signal.SIGKILL)
    with pytest.raises(UserError) as ended:
        for _ in answer:
            pass
    assert "llama.cpp's process ended (signal SIGKILL" in str(ended.value)
    assert "llama.cpp 프로세스가 끝났습니다" in ended.value.ko
    failed = list(side_by_side([chat_stream(model, MESSAGE, settings)]))[-1][0]  # the page's pane says so too
    assert failed.done and "llama.cpp's process ended" in failed.stats("en")
    reloaded = cache.get(model.spec)  # the next message gets the model loaded again
    assert reloaded is not model and list(chat_stream(reloaded, MESSAGE, settings))[-1].tokens >= 100
    cache.close()
