"""llama.cpp in a process of its own, which never imports PyTorch: llama-cpp-python's CUDA build and
PyTorch crash a process they share (import_llama_cpp below), and every process of the app that
loads a GGUF file (the app itself, training's check, export, evaluation) also has torch.

    python -m models.llama_worker     (started by models.llama_process; pickled requests on stdin,
                                       answers on stdout; it ends when stdin closes)

One worker holds at most one model. Requests are `(operation, args)`; answers `("ok", value)` or
`("error", message, korean)`; a `stream` request answers with `("piece", text)` messages and then
`("end", tokens)`, and stops early when a `("stop", ())` request arrives while it writes.
"""
from __future__ import annotations

import codecs
import ctypes
import functools
import os
import pickle
import select
import signal
import sys
from pathlib import Path

from core.errors import UserError

# ftype of each GGUF kind this project writes; k-quants need rows that are multiples of 256.
FTYPES = {"f16": "LLAMA_FTYPE_MOSTLY_F16", "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0", "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
          "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M", "q6_k": "LLAMA_FTYPE_MOSTLY_Q6_K"}


_log_callback = None  # kept referenced: llama.cpp calls it from C for as long as the process lives


@functools.cache
def import_llama_cpp():
    """The llama_cpp module, imported in a worker only.

    Seen on the lent H200 (2026-12-03, bench/llama_cuda_check.py): llama.cpp's CUDA build runs alone,
    but not in a process that also imports PyTorch: with torch imported first, loading a model ends
    the process (SIGSEGV); importing torch after a model was loaded aborts it (`free(): invalid
    pointer`); the same when llama.cpp was linked against torch's own CUDA libraries. A CPU build of
    llama.cpp and a CUDA PyTorch did share a process there."""
    import llama_cpp

    return llama_cpp


def silence_logs() -> None:
    """llama.cpp prints every tensor it loads or quantizes; keep the app's log readable."""
    global _log_callback
    llama_cpp = import_llama_cpp()

    if _log_callback is None:
        _log_callback = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
        llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


def load_llama(gguf_path: str, n_ctx: int = 2048, logits_all: bool = False, lora_path: str | None = None,
               n_threads: int | None = None, vocab_only: bool = False):
    """A llama_cpp.Llama in this process, all layers on the GPU where llama.cpp has CUDA."""
    llama_cpp = import_llama_cpp()

    silence_logs()
    try:
        return llama_cpp.Llama(gguf_path, n_ctx=n_ctx, logits_all=logits_all, verbose=False, n_gpu_layers=-1,
                               lora_path=lora_path, n_threads=n_threads, vocab_only=vocab_only)
    except (ValueError, RuntimeError) as err:
        name, lora_name = Path(gguf_path).name, Path(lora_path).name if lora_path else None
        raise UserError(f"llama.cpp could not load {name}{' with ' + lora_name if lora_name else ''}: "
                        f"is it a complete GGUF file? ({err})",
                        ko=f"llama.cpp가 {name}{f'(LoRA {lora_name} 적용)' if lora_name else ''}을(를) 불러오지 "
                           f"못했습니다. 완전한 GGUF 파일인지 확인하세요. ({err})") from err


def quantize(source: str, target: str, kind: str, threads: int = 0) -> None:
    llama_cpp = import_llama_cpp()

    silence_logs()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, FTYPES[kind])
    params.nthread = threads
    status = llama_cpp.llama_model_quantize(source.encode(), target.encode(), ctypes.byref(params))
    if status != 0:
        name = Path(source).name
        raise UserError(f"llama.cpp could not quantize {name} to {kind} (status {status}).",
                        ko=f"llama.cpp가 {name}을(를) {kind}(으)로 양자화하지 못했습니다 (상태 {status}).")


class Worker:
    """The operations a client asks for, on the one model this process holds."""

    def __init__(self, requests, answers):
        self.requests, self.answers = requests, answers
        self.llm = None

    def open(self, options: dict) -> dict:
        llama_cpp = import_llama_cpp()

        self.llm = load_llama(**options)
        vocab = self.llm._model.vocab
        return {"metadata": dict(self.llm.metadata), "n_vocab": self.llm.n_vocab(),
                "bos": self.llm.token_bos(), "eos": self.llm.token_eos(),
                "adds_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab))}

    def tokenize(self, text: bytes, add_bos: bool, special: bool) -> list[int]:
        return self.llm.tokenize(text, add_bos=add_bos, special=special)

    def detokenize(self, tokens: list[int], special: bool) -> bytes:
        return self.llm.detokenize(tokens, special=special)

    def logprobs(self, ids: list[int]):
        """Each next token's log-probability after the ones before it (the first token has none)."""
        import numpy as np

        logits = self._logits(ids)[:-1]
        peak = logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits - peak).sum(axis=1, dtype=np.float64)) + peak[:, 0]
        return logits[np.arange(len(ids) - 1), ids[1:]] - log_norm

    def top_tokens(self, ids: list[int]):
        """The most likely next token at every position, and the last position's logits."""
        logits = self._logits(ids)
        return logits.argmax(-1), logits[-1].copy()

    def _logits(self, ids: list[int]):
        import numpy as np

        self.llm.reset()
        self.llm.eval(ids)
        return np.asarray(self.llm.scores[:len(ids)], dtype=np.float32)

    def greedy(self, ids: list[int], limit: int) -> list[int]:
        """The greedy continuation, up to `limit` tokens or the end-of-sequence token."""
        generated = []
        for token in self.llm.generate(ids, temp=0.0, top_k=1, reset=True):
            if token == self.llm.token_eos() or len(generated) == limit:
                break
            generated.append(token)
        return generated

    def stream(self, ids: list[int], sampling: dict, seed: int, max_new_tokens: int, text_stops: list[str]) -> int:
        """Sends each piece of text as it is written; returns the number of tokens. Token by token
        through `Llama.generate`, decoded with an incremental UTF-8 decoder: `create_completion(stream=True)`
        re-decodes all of the answer on every token while the text is not valid UTF-8."""
        llama_cpp = import_llama_cpp()

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        longest_stop = max(map(len, text_stops), default=0)
        generated, raw = 0, ""
        self.llm.set_seed(seed)
        for token in self.llm.generate(ids, min_p=0.0, **sampling):
            if llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token):
                break
            generated += 1
            piece = decoder.decode(self.llm.detokenize([token]))
            raw += piece
            self._send(("piece", piece))
            tail = raw[-(len(piece) + longest_stop):]
            if generated >= max_new_tokens or any(stop in tail for stop in text_stops) or self._stop_asked():
                break
        return generated

    def _stop_asked(self) -> bool:
        # The client writes "stop" only after it has read a piece, so nothing of it can sit in the
        # reader's buffer yet: the pipe itself says whether it came.
        if not select.select([self.requests], [], [], 0)[0]:
            return False
        operation, _ = pickle.load(self.requests)
        return operation == "stop"

    def _send(self, message) -> None:
        pickle.dump(message, self.answers, protocol=pickle.HIGHEST_PROTOCOL)
        self.answers.flush()

    def serve(self) -> None:
        while True:
            try:
                operation, args = pickle.load(self.requests)
            except EOFError:
                return
            if operation == "stop":  # came after its answer ended by itself
                continue
            try:
                if operation == "close":
                    self._send(("ok", None))
                    return
                if operation == "stream":
                    self._send(("end", self.stream(*args)))
                elif operation == "quantize":
                    self._send(("ok", quantize(*args)))
                else:
                    self._send(("ok", getattr(self, operation)(*args)))
            except UserError as err:
                self._send(("error", str(err), err.ko))
            except Exception as err:  # the client raises it with the worker's reason
                self._send(("error", f"{type(err).__name__}: {err}", None))


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the process that started this worker
    # decides what it means (an export stops at its next step); the worker ends when stdin closes
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print, or llama.cpp's own output, goes to stderr, never into the answers
    Worker(requests, answers).serve()


if __name__ == "__main__":
    sys.exit(main())
