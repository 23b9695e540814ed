"""Chat with a model: a GGUF file through llama-cpp-python (optionally a GGUF LoRA on a base GGUF), or a
run not yet exported through transformers + its adapter. Loaded models are shared by every session
within a memory budget; a model too large for the memory left is refused before it is loaded.

    python -m inference.chat MODEL.gguf [--lora ADAPTER.gguf] --prompt TEXT
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import random
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from core import artifacts
from core.artifacts import ExportManifest, PromptContract
from core.errors import UserError
from core.i18n import Text, env_lang, text_in
from core.ram import meminfo
from core.workspace import ExportPaths
from data.chat_format import ChatTemplate, encode_prompt, fitted_prompt, history_lines, reply_of
from inference import llama
from models.gguf import is_cuda_build
from models.quantization import nf4_quantization

GIB = 2**30
CHAT_CONTEXT = 4096         # tokens; Llama-3 was trained on 8192, but chat turns are short
MEMORY_ENV = "TUNER_CHAT_MEMORY_GIB"
THREADS_ENV = "TUNER_CHAT_THREADS"


class GenerationSettings(BaseModel):
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.9, gt=0, le=1)
    top_k: int = Field(40, ge=0, description="0: no top-k cut")
    repeat_penalty: float = Field(1.1, ge=0.5, le=2)
    max_new_tokens: int = Field(256, ge=1, le=4096)
    seed: int = Field(-1, description="-1: a new random seed for every answer (shown with it)")


class ChatModelSpec(BaseModel):
    """What to load. `id` names it for good (votes, saved chats; see core.artifacts), `label` in the UI."""
    id: str
    label: str
    kind: Literal["gguf", "hf"]
    gguf_path: str | None = None
    lora_path: str | None = None
    base_model: str | None = None
    base_path: str | None = None   # hf: the base model folder
    adapter_dir: str | None = None  # hf: None chats with the base model itself
    load_in_4bit: bool = False      # hf: the base in 4-bit where CUDA allows, as a QLoRA run trained it
    file_kind: str | None = None    # an exported file's kind: f16, q8_0, q4_k_m, …, lora
    prompt: PromptContract = PromptContract(end_tokens=["<|end_of_text|>"])
    problem: str | None = None      # set for an entry that is listed but cannot be chatted with (why)
    problem_ko: str | None = None

    @property
    def key(self) -> tuple:
        return (self.kind, self.gguf_path, self.lora_path, self.base_path, self.adapter_dir)


def gguf_spec(gguf_path: str | Path, lora_path: str | Path | None = None, label: str | None = None,
              model_id: str | None = None, prompt_format: str | None = None, speakers: str | None = None) -> ChatModelSpec:
    gguf_path = Path(gguf_path).expanduser().resolve()
    lora = Path(lora_path).expanduser().resolve() if lora_path else None
    return ChatModelSpec(id=model_id or f"path:{gguf_path}" + (f"+{lora}" if lora else ""),
                         label=label or (f"{gguf_path.name} + {lora.name}" if lora else gguf_path.name), kind="gguf",
                         gguf_path=str(gguf_path), lora_path=str(lora) if lora else None,
                         prompt=contract_of_gguf(gguf_path, prompt_format, speakers, beside=lora or gguf_path))


def contract_of_gguf(gguf_path: Path, prompt_format: str | None = None, speakers: str | None = None,
                     beside: Path | None = None) -> PromptContract:
    """The contract recorded in the export beside a GGUF file, with any format or speakers asked for
    instead; for a file from elsewhere (or another format) its end tokens come from the file itself:
    its end-of-sequence token, and its chat template's end-of-turn marker."""
    try:
        manifest = artifacts.read(ExportPaths(Path(beside or gguf_path).parent).manifest, ExportManifest)
    except artifacts.UnreadableFile:
        manifest = None
    recorded = manifest.prompt if manifest else PromptContract()
    wanted = {"prompt_format": prompt_format or recorded.prompt_format, "speakers": speakers or recorded.speakers}
    if manifest is not None and wanted["prompt_format"] == recorded.prompt_format:
        return recorded.model_copy(update=wanted)
    if not Path(gguf_path).is_file():
        return PromptContract(**wanted)
    return PromptContract(**wanted, end_tokens=_end_tokens_of_file(Path(gguf_path), wanted["prompt_format"]))


def _end_tokens_of_file(gguf_path: Path, prompt_format: str) -> list[str]:
    from data.chat_format import TemplatePieces

    vocab = _file_vocabulary(gguf_path)
    template_text = vocab.metadata.get("tokenizer.chat_template")
    if prompt_format != "chat_template" or not template_text:
        return [vocab.eos]
    end_of_turn = TemplatePieces.of(ChatTemplate(template_text, vocab.bos, vocab.eos)).assistant_suffix.strip()
    return [end_of_turn, vocab.eos] if end_of_turn and end_of_turn != vocab.eos else [vocab.eos]


@dataclass(frozen=True)
class FileVocabulary:
    """What chat reads from a GGUF file without its weights: its metadata, vocabulary size and the
    text of its BOS and EOS tokens."""
    metadata: dict
    n_vocab: int
    bos: str
    eos: str


_vocabularies: dict[tuple, FileVocabulary] = {}


def _file_vocabulary(gguf_path: Path) -> FileVocabulary:
    """Read once per version of the file: each read starts a llama.cpp worker, and a listing asks for
    every file without an export.json, the memory estimate for every file loaded."""
    stat = Path(gguf_path).stat()
    key = (str(gguf_path), stat.st_size, stat.st_mtime_ns)
    if key not in _vocabularies:
        vocab = llama.open_model(Path(gguf_path), n_ctx=8, vocab_only=True)
        try:
            def piece(token: int) -> str:
                return vocab.detokenize([token], special=True).decode("utf-8", errors="replace")

            _vocabularies[key] = FileVocabulary(vocab.metadata, vocab.n_vocab(), piece(vocab.token_bos()),
                                                piece(vocab.token_eos()))
        finally:
            vocab.close()
    return _vocabularies[key]


@dataclass
class Reply:
    text: str = ""
    tokens: int = 0
    first_token_s: float | None = None
    decode_s: float = 0.0
    seed: int | None = None
    dropped_lines: int = 0
    done: bool = False
    error: str | None = None  # a core.i18n.Text when it has a Korean translation

    @property
    def tokens_per_s(self) -> float:
        # Decode speed: tokens after the first over the time after the first.
        return (self.tokens - 1) / self.decode_s if self.tokens > 1 and self.decode_s > 0 else 0.0

    def stats(self, lang: str = "en") -> str:
        """One line on the answer: its progress, or its tokens, speed and seed; Korean when `lang` is "ko"."""
        if self.error:
            return f"⚠️ {text_in(self.error, lang)}"
        if not self.done:
            return text_in(Text(f"writing… {self.tokens} tokens", f"작성 중… 토큰 {self.tokens}개"), lang)
        parts = [Text(f"{self.tokens} tokens", f"토큰 {self.tokens}개"), f"{self.tokens_per_s:.1f} tok/s"]
        if not self.text and not self.tokens:
            parts.insert(0, Text("the model ended its turn without a word", "모델이 아무 말 없이 차례를 마쳤습니다"))
        if self.first_token_s is not None:
            parts.append(Text(f"first token {self.first_token_s:.2f} s", f"첫 토큰 {self.first_token_s:.2f}초"))
        if self.seed is not None:
            parts.append(Text(f"seed {self.seed}", f"시드 {self.seed}"))
        if self.dropped_lines:
            parts.append(Text(f"{self.dropped_lines} oldest lines left out to fit the context",
                              f"컨텍스트에 맞추느라 오래된 줄 {self.dropped_lines}개 제외"))
        return " · ".join(text_in(part, lang) for part in parts)


class GgufModel:
    """A GGUF file (and optional GGUF LoRA) loaded in a llama.cpp worker process (models.llama_process);
    one generation at a time (`lock`)."""

    def __init__(self, spec: ChatModelSpec, n_ctx: int, threads: int | None, size_bytes: int):
        self.spec = spec
        self.lock = threading.Lock()
        self.n_ctx = n_ctx
        self.threads = threads
        self.generated_tokens = 0  # by the last answer
        self.closed = False
        self.size_bytes = size_bytes
        self.llm = llama.open_model(Path(spec.gguf_path), n_ctx=n_ctx, n_threads=threads,
                                    lora_path=Path(spec.lora_path) if spec.lora_path else None)
        template = self.llm.metadata.get("tokenizer.chat_template")
        self.template = ChatTemplate(template, self._piece(self.llm.token_bos()),
                                     self._piece(self.llm.token_eos())) if template else None

    def _piece(self, token: int) -> str:
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def tokenize(self, text: str) -> list[int]:
        return llama.encode(self.llm, text, self.spec.prompt)

    def stream_raw(self, prompt: str, settings: GenerationSettings, seed: int) -> Iterator[str]:
        sampling = dict(top_k=settings.top_k, top_p=settings.top_p, temp=settings.temperature,
                        repeat_penalty=settings.repeat_penalty)
        yield from self.llm.stream(self.tokenize(prompt), sampling, seed, settings.max_new_tokens,
                                   self.spec.prompt.text_stops)
        self.generated_tokens = self.llm.generated_tokens

    @property
    def alive(self) -> bool:
        """False once its worker has died (killed, crashed): the cache loads the model again."""
        return self.llm.process.alive

    def close(self) -> None:
        self.closed = True
        self.llm.close()


class HfModel:
    """A base model with a LoRA adapter (or none) in transformers: for runs not yet exported. Slower."""

    def __init__(self, spec: ChatModelSpec, n_ctx: int, threads: int | None, size_bytes: int):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.spec = spec
        self.lock = threading.Lock()
        self.size_bytes = size_bytes
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.generated_tokens = 0  # by the last answer
        self.closed = False
        tokenizer_dir = spec.adapter_dir or spec.base_path
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        self.in_4bit = loads_in_4bit(spec)
        placement = (dict(quantization_config=nf4_quantization(torch.bfloat16), device_map={"": 0})
                     if self.in_4bit else {})
        model = AutoModelForCausalLM.from_pretrained(spec.base_path, dtype="auto", use_safetensors=True,
                                                     trust_remote_code=False, **placement)
        if spec.adapter_dir:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, spec.adapter_dir)
        self.model = (model if self.in_4bit else model.to(self.device)).eval()
        self.n_ctx = min(n_ctx, getattr(model.config, "max_position_embeddings", n_ctx) or n_ctx)
        self.template = ChatTemplate.of_tokenizer(self.tokenizer)

    def tokenize(self, text: str) -> list[int]:
        return encode_prompt(text, self.tokenizer, self.spec.prompt)

    def stream_raw(self, prompt: str, settings: GenerationSettings, seed: int) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        ids = torch.tensor([self.tokenize(prompt)], device=self.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        sample = settings.temperature > 0
        options = dict(max_new_tokens=settings.max_new_tokens, do_sample=sample, streamer=streamer,
                       repetition_penalty=settings.repeat_penalty, pad_token_id=self.tokenizer.pad_token_id,
                       stop_strings=self.spec.prompt.text_stops or None,
                       tokenizer=self.tokenizer)
        if sample:
            options.update(temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k or None)
        errors = []

        def generate():
            try:
                torch.manual_seed(seed)
                with torch.no_grad():
                    output = self.model.generate(ids, attention_mask=torch.ones_like(ids), **options)
                self.generated_tokens = output.shape[1] - ids.shape[1]
            except Exception as err:  # surfaced to the reader below, not lost in the thread
                errors.append(err)
                streamer.on_finalized_text("", stream_end=True)

        worker = threading.Thread(target=generate, daemon=True)
        worker.start()
        yield from streamer
        worker.join()
        if errors:
            raise UserError(f"Generation failed: {errors[0]}", ko=f"답변을 생성하지 못했습니다: {errors[0]}")

    def close(self) -> None:
        self.closed = True
        del self.model


LoadedModel = GgufModel | HfModel


def chat_stream(model: LoadedModel, messages: list[dict], settings: GenerationSettings) -> Iterator[Reply]:
    """The bot's answer to a conversation (`{"role", "content"}` messages ending with the user's), as
    it grows. The prompt is the training format; the oldest lines give way if the context is full."""
    fmt = model.spec.prompt
    lines = history_lines(messages, fmt)
    if not lines or lines[-1].role != "user":
        raise UserError("Type a message first.", ko="먼저 메시지를 입력하세요.", field="message")
    seed = settings.seed if settings.seed >= 0 else random.randrange(2**31)
    if model.closed:  # unloaded to make room between being picked and answering
        raise _unloaded()
    room = model.n_ctx - settings.max_new_tokens
    prompt, dropped = fitted_prompt(lines, fmt, lambda text: len(model.tokenize(text)), room, model.template)
    reply = Reply(seed=seed, dropped_lines=dropped)
    raw = ""
    with model.lock:
        if model.closed:
            raise _unloaded()
        started = time.perf_counter()
        first_at = None
        for piece in model.stream_raw(prompt, settings, seed):
            if first_at is None and piece:
                first_at = time.perf_counter()
                reply.first_token_s = first_at - started
            raw += piece
            reply.tokens += 1  # about one token per piece while streaming; exact at the end
            reply.text = reply_of(raw, fmt)
            reply.decode_s = time.perf_counter() - first_at if first_at else 0.0
            yield reply
        reply.tokens = model.generated_tokens
    reply.text = reply_of(raw, fmt)
    reply.done = True
    yield reply


def _unloaded() -> UserError:
    return UserError("This model was just unloaded to make room for another; send your message again.",
                     ko="다른 모델을 불러올 자리를 만드느라 이 모델을 방금 메모리에서 내렸습니다. 메시지를 다시 보내세요.")


def side_by_side(streams: list[Iterator[Reply] | None], interval: float = 0.05) -> Iterator[list[Reply | None]]:
    """Runs several answers at once, each in its own thread, and yields all of them whenever one grows
    (two models answer together; two panes on one model take turns on its lock). Also used for a
    single answer, so that generation runs at full speed whatever the reader does."""
    updates: queue.Queue = queue.Queue()
    latest: list[Reply | None] = [None] * len(streams)
    running = 0

    def consume(index: int, stream: Iterator[Reply]) -> None:
        try:
            for reply in stream:
                updates.put((index, Reply(**vars(reply))))
        except UserError as err:  # the page shows it in its language
            updates.put((index, Reply(error=Text(str(err), err.ko) if err.ko else str(err), done=True)))
        except Exception as err:  # one pane failing must not take the other down
            updates.put((index, Reply(error=f"{type(err).__name__}: {err}", done=True)))
        updates.put((index, None))

    for index, stream in enumerate(streams):
        if stream is not None:
            running += 1
            threading.Thread(target=consume, args=(index, stream), daemon=True).start()
    last_yield = 0.0
    while running:
        # Everything that arrived while the caller was busy with the last yield, as one update, at
        # most every `interval` seconds: a slow reader (a web page) never holds back generation, and
        # redrawing the page does not compete with it for the interpreter on every token.
        arrived = [updates.get()]
        time.sleep(max(0.0, last_yield + interval - time.monotonic()))
        while not updates.empty():
            arrived.append(updates.get_nowait())
        for index, reply in arrived:
            if reply is None:
                running -= 1
            else:
                latest[index] = reply
        last_yield = time.monotonic()
        yield list(latest)


@dataclass
class ModelCache:
    """Loaded models shared by every chat session, least recently used evicted to stay in budget.

    A model loads outside the cache's lock: while one session waits for a large model, others chat
    with models already loaded, or load their own; two sessions asking for the same model share one load.
    """
    budget_bytes: int | None = None
    threads: int | None = None
    # base model name -> its local folder, for the transformers engine (the app passes
    # models.resolve.resolve_model_path); None where only GGUF files are chatted with (a Space)
    resolve_base: Callable[[str], str] | None = None
    # model id -> what makes its GGUF file when it is not there yet (the app: the demo base, built on first use)
    make_file: dict[str, Callable[[], Path]] = field(default_factory=dict)
    loaded: OrderedDict = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loading: dict = field(default_factory=dict)   # key -> Event set when that load ends
    _reserved: dict = field(default_factory=dict)  # key -> bytes a load under way will take

    def __post_init__(self):
        if self.budget_bytes is None:
            self.budget_bytes = memory_budget_bytes()
        if self.threads is None and os.environ.get(THREADS_ENV):
            self.threads = int(os.environ[THREADS_ENV])

    def get(self, spec: ChatModelSpec) -> LoadedModel:
        if spec.problem:
            raise UserError(spec.problem, ko=spec.problem_ko)
        if spec.kind == "hf" and not spec.base_path:
            if self.resolve_base is None:
                raise UserError("Only GGUF files can be chatted with here.", ko="여기서는 GGUF 파일과만 대화할 수 있습니다.")
            spec = spec.model_copy(update={"base_path": self.resolve_base(spec.base_model)})
        if spec.kind == "gguf" and spec.id in self.make_file and not Path(spec.gguf_path).is_file():
            self.make_file[spec.id]()
        need = estimate_bytes(spec)
        while True:
            with self._lock:
                if spec.key in self.loaded and not getattr(self.loaded[spec.key], "alive", True):
                    self.loaded.pop(spec.key).close()  # its worker died: load it again
                if spec.key in self.loaded:
                    self.loaded.move_to_end(spec.key)
                    return self.loaded[spec.key]
                underway = self._loading.get(spec.key)
                if underway is None:
                    self._make_room(spec, need)
                    done = self._loading[spec.key] = threading.Event()
                    self._reserved[spec.key] = need
                    break
            underway.wait()  # the same model is loading for another session: use that one
        try:
            engine = GgufModel if spec.kind == "gguf" else HfModel
            model = engine(spec, context_length(spec), self.threads, need)
            with self._lock:
                self.loaded[spec.key] = model
            return model
        finally:
            with self._lock:
                self._loading.pop(spec.key, None)
                self._reserved.pop(spec.key, None)
            done.set()

    def _make_room(self, spec: ChatModelSpec, need: int) -> None:
        """Called with the lock held: evicts idle models until `need` fits, or refuses with why."""
        name = Path(spec.gguf_path or spec.base_path or spec.label).name
        if need > self.budget_bytes:
            raise UserError(f"{name} needs about {need / GIB:.1f} GiB, more than the chat memory budget of "
                            f"{self.budget_bytes / GIB:.1f} GiB on this machine: choose a smaller quantization "
                            f"(q4_k_m) or raise {MEMORY_ENV}. It was not loaded.",
                            ko=f"{name}에는 약 {need / GIB:.1f} GiB가 필요해 이 컴퓨터의 대화용 메모리 한도 "
                               f"{self.budget_bytes / GIB:.1f} GiB를 넘습니다. 더 작은 양자화(q4_k_m)를 고르거나 "
                               f"{MEMORY_ENV}를 높이세요. 모델을 불러오지 않았습니다.")
        reserved = sum(self._reserved.values())  # loads under way: not yet in the free memory figure
        held = sum(model.size_bytes for model in self.loaded.values()) + reserved
        for key in list(self.loaded):
            if held + need <= self.budget_bytes and need <= free_bytes() - reserved:
                break
            model = self.loaded[key]
            if model.lock.acquire(blocking=False):  # never unload a model that is answering
                try:
                    del self.loaded[key]
                    model.close()
                    held -= model.size_bytes
                finally:
                    model.lock.release()
        if held + need > self.budget_bytes:  # what is left is answering now and cannot be unloaded
            raise UserError(f"{name} needs about {need / GIB:.1f} GiB, but the models answering now hold "
                            f"{held / GIB:.1f} GiB of the chat memory budget of {self.budget_bytes / GIB:.1f} GiB: "
                            "wait until they finish, or choose a smaller quantization (q4_k_m). It was not loaded.",
                            ko=f"{name}에는 약 {need / GIB:.1f} GiB가 필요하지만 지금 답하고 있는 모델들이 대화용 메모리 "
                               f"한도 {self.budget_bytes / GIB:.1f} GiB 중 {held / GIB:.1f} GiB를 쓰고 있습니다. 답이 "
                               "끝난 뒤 다시 하거나 더 작은 양자화(q4_k_m)를 고르세요. 모델을 불러오지 않았습니다.")
        free = free_bytes() - reserved
        if need > free:
            raise UserError(f"{name} needs about {need / GIB:.1f} GiB, but only {free / GIB:.1f} GiB of "
                            "memory is free: choose a smaller quantization (q4_k_m) or close other programs. "
                            "It was not loaded.",
                            ko=f"{name}에는 약 {need / GIB:.1f} GiB가 필요하지만 남은 메모리는 {free / GIB:.1f} GiB뿐입니다. "
                               "더 작은 양자화(q4_k_m)를 고르거나 다른 프로그램을 닫으세요. 모델을 불러오지 않았습니다.")

    def close(self) -> None:
        with self._lock:
            for model in self.loaded.values():
                model.close()
            self.loaded.clear()


def estimate_bytes(spec: ChatModelSpec) -> int:
    """Memory a model takes to chat: its weights as stored, plus the KV cache and buffers of a GGUF context."""
    if spec.kind == "gguf":
        files = [Path(spec.gguf_path)] + ([Path(spec.lora_path)] if spec.lora_path else [])
        weights = sum(llama.check_gguf(path).stat().st_size for path in files)
        return weights + _context_bytes(spec)
    weights = sum(path.stat().st_size for path in Path(spec.base_path).glob("*.safetensors"))
    if loads_in_4bit(spec):
        weights = _four_bit_bytes(Path(spec.base_path), weights)
    if spec.adapter_dir:
        weights += sum(path.stat().st_size for path in Path(spec.adapter_dir).glob("*.safetensors"))
    return int(weights * 1.2)


def loads_in_4bit(spec: ChatModelSpec) -> bool:
    """A QLoRA run's base chats in 4-bit on CUDA with bitsandbytes, as it was trained (and in a quarter
    of the memory); on a CPU, or without bitsandbytes, in its stored precision."""
    if not (spec.kind == "hf" and spec.load_in_4bit):
        return False
    import importlib.util

    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None


def _four_bit_bytes(base_path: Path, stored_bytes: int) -> int:
    """NF4 keeps the embeddings and the output layer as stored and every other weight in about 0.53
    bytes a parameter (4 bits and their scales)."""
    config = json.loads((base_path / "config.json").read_text(encoding="utf-8"))
    config = config.get("text_config", config)
    per_parameter = 4 if (config.get("dtype") or config.get("torch_dtype")) == "float32" else 2
    kept = config["vocab_size"] * config["hidden_size"] * per_parameter * (1 if config.get("tie_word_embeddings") else 2)
    return kept + int(max(stored_bytes - kept, 0) / per_parameter * 0.53)


def context_length(spec: ChatModelSpec) -> int:
    if spec.kind == "gguf":
        return min(CHAT_CONTEXT, _gguf_shape(spec.gguf_path)["context_length"])
    return CHAT_CONTEXT


def _context_bytes(spec: ChatModelSpec) -> int:
    shape = _gguf_shape(spec.gguf_path)
    n_ctx = min(CHAT_CONTEXT, shape["context_length"])
    kv_width = shape["embedding_length"] // shape["head_count"] * shape["head_count_kv"]
    kv_cache = 2 * shape["block_count"] * n_ctx * kv_width * 2           # K and V in f16
    logits = shape["vocab_size"] * 512 * 4                                # one batch of fp32 logits
    return kv_cache + logits + 64 * 2**20


def _gguf_shape(gguf_path: str) -> dict:
    """The sizes that decide a context's memory, from the file's metadata (its weights are not loaded)."""
    vocab = _file_vocabulary(Path(gguf_path))
    meta = vocab.metadata
    arch = meta.get("general.architecture", "llama")
    heads = int(meta.get(f"{arch}.attention.head_count", 1))
    return {
        "context_length": int(meta.get(f"{arch}.context_length", CHAT_CONTEXT)),
        "embedding_length": int(meta.get(f"{arch}.embedding_length", 0)),
        "block_count": int(meta.get(f"{arch}.block_count", 0)),
        "head_count": heads,
        "head_count_kv": int(meta.get(f"{arch}.attention.head_count_kv", heads)),
        "vocab_size": vocab.n_vocab,
    }


def memory_budget_bytes() -> int:
    """`TUNER_CHAT_MEMORY_GIB`, else 80% of the memory chat runs in (the GPU's where llama.cpp uses CUDA)."""
    if os.environ.get(MEMORY_ENV):
        return int(float(os.environ[MEMORY_ENV]) * GIB)
    gpu = _gpu_memory()
    total = gpu[1] if gpu else meminfo("MemTotal")
    return int(total * 0.8)


def free_bytes() -> int:
    gpu = _gpu_memory()
    return gpu[0] if gpu else meminfo("MemAvailable")


def _gpu_memory() -> tuple[int, int] | None:
    """(free, total) of the GPU when llama.cpp offloads to one; None on a CPU build. Read through
    nvidia-smi, not torch: torch in the same process as llama.cpp's CUDA build crashes it (models.gguf)."""
    import shutil
    import subprocess

    if not is_cuda_build() or not shutil.which("nvidia-smi"):
        return None
    try:
        answer = subprocess.run(["nvidia-smi", "--query-gpu=memory.free,memory.total", "--format=csv,noheader,nounits",
                                 "--id=0"], capture_output=True, text=True, timeout=20, check=True).stdout
        free_mib, total_mib = (int(part) for part in answer.strip().splitlines()[0].split(","))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    return free_mib * 2**20, total_mib * 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.chat", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", metavar="MODEL.gguf")
    parser.add_argument("--lora", default=None, metavar="ADAPTER.gguf", help="a GGUF LoRA applied on MODEL.gguf")
    parser.add_argument("--prompt", required=True, metavar="TEXT",
                        help="your message; several lines are several messages in a row")
    parser.add_argument("--format", choices=["lines", "chat_template"], default=None,
                        help="prompt format (default: the one in the export.json beside the file, else lines)")
    parser.add_argument("--speakers", choices=["blog", "numbered"], default=None)
    defaults = GenerationSettings()
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--top-p", type=float, default=defaults.top_p)
    parser.add_argument("--top-k", type=int, default=defaults.top_k)
    parser.add_argument("--repeat-penalty", type=float, default=defaults.repeat_penalty)
    parser.add_argument("--max-tokens", type=int, default=defaults.max_new_tokens)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--stats", action="store_true", help="also print token counts and speed to stderr")
    args = parser.parse_args(argv)
    try:
        spec = gguf_spec(args.model, args.lora, prompt_format=args.format, speakers=args.speakers)
        settings = GenerationSettings(temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
                                      repeat_penalty=args.repeat_penalty, max_new_tokens=args.max_tokens, seed=args.seed)
        cache = ModelCache(threads=args.threads)
        reply = Reply()
        for reply in chat_stream(cache.get(spec), [{"role": "user", "content": args.prompt}], settings):
            pass
        cache.close()
    except UserError as err:
        print(f"error: {err.text()}", file=sys.stderr)
        return 1
    print(reply.text)
    if args.stats:
        print(reply.stats(env_lang()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
