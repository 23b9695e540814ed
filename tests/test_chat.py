"""Chat on a demo export: the CLI, prompts built exactly as training rendered them, stops, history
trimming, the shared model cache, bad files, and runs not yet exported (transformers)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from core.artifacts import PromptContract
from core.errors import UserError
from data.chat_format import fitted_prompt, history_lines, reply_of
from inference.catalog import chat_models, default_pair
from inference.chat import GenerationSettings, ModelCache, chat_stream, estimate_bytes, gguf_spec, side_by_side
from models.resolve import resolve_model_path
from tests.conftest import ROOT


def chat_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inference.chat", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_the_cli_prints_the_fine_tuned_models_reply(chat_export):
    model = str(chat_export / "model-q4_k_m.gguf")
    first = chat_cli(model, "--prompt", "주말에 뭐해?", "--seed", "7", "--max-tokens", "48", "--stats")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() and "tokens" in first.stderr and "seed 7" in first.stderr
    again = chat_cli(model, "--prompt", "주말에 뭐해?", "--seed", "7", "--max-tokens", "48")
    assert again.stdout == first.stdout  # a fixed seed gives the same answer
    with_lora = chat_cli(str(chat_export / "base-f16.gguf"), "--lora", str(chat_export / "lora-f16.gguf"),
                         "--prompt", "오늘 점심 뭐 먹을래?", "--seed", "1", "--max-tokens", "32")
    assert with_lora.returncode == 0 and with_lora.stdout.strip(), with_lora.stderr


def test_the_cli_explains_missing_and_corrupt_files(chat_export, tmp_path):
    missing = chat_cli(str(tmp_path / "nothing.gguf"), "--prompt", "안녕")
    assert missing.returncode == 1 and "No GGUF file" in missing.stderr and "Traceback" not in missing.stderr
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("이건 모델이 아니야", encoding="utf-8")
    wrong = chat_cli(str(not_gguf), "--prompt", "안녕")
    assert wrong.returncode == 1 and "not a GGUF file" in wrong.stderr
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes((chat_export / "model-q4_k_m.gguf").read_bytes()[:200_000])
    cut = chat_cli(str(truncated), "--prompt", "안녕")
    assert cut.returncode == 1 and "complete GGUF file" in cut.stderr and "Traceback" not in cut.stderr


def test_the_reply_ends_where_the_users_next_line_would_begin(chat_export):
    fmt = PromptContract(end_tokens=["<|end_of_text|>"])
    assert reply_of(" 응 나 집이야\nbot: 너는?\nuser: 나도 집", fmt) == "응 나 집이야\n너는?"
    model = ModelCache().get(gguf_spec(chat_export / "model-q4_k_m.gguf"))
    for seed in range(6):
        reply = list(chat_stream(model, [{"role": "user", "content": "주말에 뭐해?"}],
                                 GenerationSettings(seed=seed, temperature=1.0, max_new_tokens=96)))[-1]
        assert reply.done and reply.tokens > 0
        assert not any(line.startswith(("user", "bot:")) for line in reply.text.split("\n")), reply.text


def test_a_long_history_gives_way_from_the_oldest_line(chat_export):
    model = ModelCache().get(gguf_spec(chat_export / "model-q4_k_m.gguf"))
    history = []
    for turn in range(300):
        history += [{"role": "user", "content": f"{turn}번째 이야기인데 오늘 날씨 진짜 좋다"},
                    {"role": "assistant", "content": "그러게 산책 가고 싶다"}]
    history.append({"role": "user", "content": "마지막 질문: 저녁 뭐 먹을까?"})
    reply = list(chat_stream(model, history, GenerationSettings(seed=1, max_new_tokens=64)))[-1]
    assert reply.done and reply.dropped_lines > 0 and "left out" in reply.stats()

    fmt = model.spec.prompt
    lines = history_lines(history, fmt)
    prompt, dropped = fitted_prompt(lines, fmt, lambda text: len(model.tokenize(text)), room=200)
    assert len(model.tokenize(prompt)) <= 200 and dropped > 0
    assert prompt.endswith("user: 마지막 질문: 저녁 뭐 먹을까?\nbot:")
    with pytest.raises(UserError, match="too long"):
        fitted_prompt(lines, fmt, lambda text: len(model.tokenize(text)), room=5)


def test_loaded_models_are_reused_evicted_within_the_budget_and_refused_when_too_large(chat_export):
    small, large = gguf_spec(chat_export / "model-q4_k_m.gguf"), gguf_spec(chat_export / "model-f16.gguf")
    roomy = ModelCache(budget_bytes=10 * 2**30)
    first = roomy.get(small)
    assert roomy.get(large) is not first and roomy.get(small) is first  # switching back does not reload

    one_at_a_time = ModelCache(budget_bytes=estimate_bytes(large) + estimate_bytes(small) // 2)
    one_at_a_time.get(small)
    one_at_a_time.get(large)
    assert list(one_at_a_time.loaded) == [large.key]  # the least recently used gave way

    tiny = ModelCache(budget_bytes=estimate_bytes(small) // 2)
    with pytest.raises(UserError, match="chat memory budget") as refused:
        tiny.get(small)
    assert "GiB" in str(refused.value) and not tiny.loaded


def test_a_model_that_does_not_fit_beside_models_answering_now_is_refused_with_why(chat_export):
    """Compare: two models answer; a third that fits the budget only if one of them is unloaded waits
    for nothing and loads nothing: it is refused, saying which memory is in use."""
    small, large = gguf_spec(chat_export / "model-q4_k_m.gguf"), gguf_spec(chat_export / "model-f16.gguf")
    third = gguf_spec(chat_export / "base-f16.gguf")
    cache = ModelCache(budget_bytes=estimate_bytes(small) + estimate_bytes(large) + estimate_bytes(third) // 2)
    answering = [cache.get(small), cache.get(large)]
    for model in answering:
        model.lock.acquire()  # what chat_stream holds while a model writes its answer
    try:
        with pytest.raises(UserError, match="answering now") as refused:
            cache.get(third)
        assert "GiB" in str(refused.value) and refused.value.ko and list(cache.loaded) == [small.key, large.key]
    finally:
        for model in answering:
            model.lock.release()
    cache.get(third)  # once they are done, the least recently used gives way
    assert list(cache.loaded) == [large.key, third.key]


def test_two_answers_stream_together_and_match_separate_runs(chat_export):
    cache = ModelCache()
    specs = [gguf_spec(chat_export / "base-f16.gguf"), gguf_spec(chat_export / "model-q4_k_m.gguf")]
    messages = [{"role": "user", "content": "퇴근하고 뭐 할 거야?"}]
    settings = GenerationSettings(seed=11, max_new_tokens=80)
    updates = list(side_by_side([chat_stream(cache.get(spec), messages, settings) for spec in specs]))
    final = updates[-1]
    assert all(reply.done for reply in final)
    alone = [list(chat_stream(cache.get(spec), messages, settings))[-1].text for spec in specs]
    assert [reply.text for reply in final] == alone


def test_the_workspace_lists_exports_bases_and_unexported_checkpoints(workspace, chat_export):
    models = chat_models(workspace)
    assert {"export:chat-run-final/model-q4_k_m.gguf", "export:chat-run-final/model-f16.gguf",
            "export:chat-run-final/lora-f16.gguf", "base-gguf:demo", "base-hf:demo",
            "run:chat-run/checkpoint-5"} <= set(models)
    labels = {spec.label for spec in models.values()}
    assert {"chat-run-final · q4_k_m", "chat-run-final · LoRA on base", "base · demo · f16 GGUF",
            "chat-run · checkpoint-5 (transformers, not exported)"} <= labels
    assert default_pair(models) == ("base-gguf:demo", "export:chat-run-final/model-q4_k_m.gguf")


def test_a_checkpoint_not_yet_exported_chats_through_transformers(workspace, chat_export):
    spec = chat_models(workspace)["run:chat-run/checkpoint-5"]
    assert spec.kind == "hf" and spec.adapter_dir.endswith("checkpoint-5")
    cache = ModelCache(resolve_base=lambda base: resolve_model_path(base, workspace))
    reply = list(chat_stream(cache.get(spec), [{"role": "user", "content": "뭐해?"}],
                             GenerationSettings(seed=2, max_new_tokens=24)))[-1]
    assert reply.done and reply.tokens > 0 and reply.text


def test_every_token_streams_at_once_even_when_the_model_writes_broken_utf8(chat_export):
    """llama-cpp-python's own streaming holds text back until it is valid UTF-8, re-decoding all of it
    on every token; a weak model's stray byte then froze the answer. Each token must reach the reader."""
    model = ModelCache().get(gguf_spec(chat_export / "base-f16.gguf"))
    for seed in range(4):
        updates = list(chat_stream(model, [{"role": "user", "content": "내일 점심 같이 먹을래?"}],
                                   GenerationSettings(seed=seed, temperature=1.5, max_new_tokens=200)))
        assert len(updates) == updates[-1].tokens + 1  # one update per token, then the finished answer


def test_a_model_loading_for_one_session_does_not_hold_up_another(chat_export):
    """Two sessions ask for models at once: each load runs outside the cache's lock, and two asks for
    the same model share one load."""
    import threading

    from inference import chat as chat_module

    cache = ModelCache(budget_bytes=10 * 2**30)
    small = gguf_spec(chat_export / "model-q4_k_m.gguf")
    ready = cache.get(small)
    slow_started, release = threading.Event(), threading.Event()
    original = chat_module.GgufModel

    class SlowModel(original):  # a large model taking its time to load
        def __init__(self, *args, **kwargs):
            slow_started.set()
            release.wait(timeout=60)
            super().__init__(*args, **kwargs)

    chat_module.GgufModel = SlowModel
    try:
        large = gguf_spec(chat_export / "model-f16.gguf")
        loads = [threading.Thread(target=cache.get, args=(large,)) for _ in range(2)]
        for load in loads:
            load.start()
        assert slow_started.wait(timeout=60)
        assert cache.get(small) is ready  # answered while the large model is still loading
        release.set()
        for load in loads:
            load.join(timeout=120)
    finally:
        chat_module.GgufModel = original
    assert list(cache.loaded) == [small.key, large.key]  # loaded once, for both sessions
