"""A GGUF file loaded by llama.cpp in a worker process (models.llama_worker), behind the few calls of
llama_cpp.Llama this project makes. Every GGUF load goes through here, so no process of the app has
llama.cpp and PyTorch together, which crashes llama-cpp-python's CUDA build (models.gguf).

A worker that dies (a crash in llama.cpp, the out-of-memory killer, a kill) ends what was asked of it
with a UserError that says how it ended; closing the model ends its worker and frees all its memory.
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from core.errors import UserError
from models import llama_worker

ROOT = Path(__file__).resolve().parent.parent


class LlamaProcess:
    """One worker process; one request at a time (a lock), a streamed answer holding it to its end."""

    def __init__(self):
        self._stderr = tempfile.TemporaryFile()
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        self._process = subprocess.Popen([sys.executable, "-m", llama_worker.__name__], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._stderr,
                                         env={**os.environ, "PYTHONPATH": path})
        self._lock = threading.Lock()
        self._closed = False
        self.last_tokens = 0  # by the last streamed answer

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return not self._closed and self._process.poll() is None

    def call(self, operation: str, *args):
        with self._lock:
            self._refuse_if_closed()
            self._send(operation, args)
            return self._answer()

    def stream(self, *args) -> Iterator[str]:
        """Pieces of text as the worker writes them; a caller that stops reading stops the worker."""
        with self._lock:
            self._refuse_if_closed()
            self._send("stream", args)
            finished = False
            try:
                while True:
                    message = self._receive()
                    if message[0] == "piece":
                        yield message[1]
                    elif message[0] == "end":
                        finished, self.last_tokens = True, message[1]
                        return
                    else:
                        finished = True
                        self._raise(*message)
            finally:
                if not finished and self._process.poll() is None:
                    self._send("stop", ())
                    message = self._receive()
                    while message[0] == "piece":
                        message = self._receive()
                    if message[0] == "end":
                        self.last_tokens = message[1]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self._process.poll() is None:
                try:
                    self._send("close", ())
                    self._process.wait(timeout=30)
                except (UserError, subprocess.TimeoutExpired):
                    self._process.kill()
                    self._process.wait()
            self._closed = True
            for stream in (self._process.stdin, self._process.stdout, self._stderr):
                try:
                    stream.close()
                except OSError:  # what was left for a worker that died cannot be written
                    pass

    def _refuse_if_closed(self) -> None:
        if self._closed:
            raise UserError("This model was just unloaded (to make room for another); send your message again.",
                            ko="이 모델을 방금 메모리에서 내렸습니다(다른 모델을 불러올 자리를 만드느라). 메시지를 다시 보내세요.")

    def _send(self, operation: str, args: tuple) -> None:
        try:
            pickle.dump((operation, args), self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._ended() from None

    def _receive(self) -> tuple:
        try:
            return pickle.load(self._process.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            raise self._ended() from None

    def _answer(self):
        message = self._receive()
        if message[0] == "ok":
            return message[1]
        self._raise(*message)

    def _raise(self, kind: str, text: str, ko: str | None = None):
        if kind != "error":
            raise UserError(f"llama.cpp's process answered out of turn ({kind}).",
                            ko=f"llama.cpp 프로세스가 차례에 맞지 않는 응답을 보냈습니다 ({kind}).")
        raise UserError(text, ko=ko)

    def _ended(self) -> UserError:
        try:
            code = self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        self._stderr.seek(0)
        said = [line for line in self._stderr.read().decode("utf-8", "replace").splitlines() if line.strip()]
        last = f": {said[-1].strip()}" if said else ""
        killed = " (killed: out of memory, or stopped by hand)" if code == -signal.SIGKILL else ""
        killed_ko = " (강제 종료: 메모리 부족이거나 직접 종료됨)" if code == -signal.SIGKILL else ""
        return UserError(f"llama.cpp's process ended ({how}{killed}){last}",
                         ko=f"llama.cpp 프로세스가 끝났습니다 ({how}{killed_ko}){last}")


class GgufProcess:
    """A GGUF file (and optional GGUF LoRA) loaded in its own worker, with llama_cpp.Llama's names for
    the calls chat, evaluation and verification make."""

    def __init__(self, gguf_path: Path, n_ctx: int = 2048, logits_all: bool = False, lora_path: Path | None = None,
                 n_threads: int | None = None, vocab_only: bool = False):
        self.process = LlamaProcess()
        options = dict(gguf_path=str(Path(gguf_path).resolve()), n_ctx=n_ctx, logits_all=logits_all,
                       lora_path=str(Path(lora_path).resolve()) if lora_path else None, n_threads=n_threads,
                       vocab_only=vocab_only)
        try:
            info = self.process.call("open", options)
        except UserError:
            self.process.close()
            raise
        self.metadata: dict = info["metadata"]
        self.adds_bos: bool = info["adds_bos"]
        self._bos, self._eos, self._n_vocab = info["bos"], info["eos"], info["n_vocab"]

    def token_bos(self) -> int:
        return self._bos

    def token_eos(self) -> int:
        return self._eos

    def n_vocab(self) -> int:
        return self._n_vocab

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return self.process.call("tokenize", text, add_bos, special)

    def detokenize(self, tokens: list[int], special: bool = False) -> bytes:
        return self.process.call("detokenize", list(tokens), special)

    def logprobs(self, ids: list[int]):
        return self.process.call("logprobs", list(ids))

    def top_tokens(self, ids: list[int]):
        """(the argmax token at every position, the last position's logits): needs logits_all."""
        return self.process.call("top_tokens", list(ids))

    def greedy(self, ids: list[int], limit: int) -> list[int]:
        return self.process.call("greedy", list(ids), limit)

    def stream(self, ids: list[int], sampling: dict, seed: int, max_new_tokens: int,
               text_stops: list[str]) -> Iterator[str]:
        return self.process.stream(list(ids), sampling, seed, max_new_tokens, list(text_stops))

    @property
    def generated_tokens(self) -> int:
        return self.process.last_tokens

    def close(self) -> None:
        self.process.close()


def quantize(source: Path, target: Path, kind: str, threads: int = 0) -> None:
    process = LlamaProcess()
    try:
        process.call("quantize", str(source), str(target), kind, threads)
    finally:
        process.close()
