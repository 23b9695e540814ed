"""Decode speed of the Chat tab against llama-cpp-python called directly, on the same GGUF file, the
same threads, prompt, sampling settings and seed (so both write the same tokens).

    .venv/bin/python bench/chat_speed.py [--gguf FILE] [--threads N] [--repeats N] [--max-tokens N]

Without --gguf it builds a demo export in a new temporary workspace first (about 3 minutes). Prints one
JSON line and appends it to the list in bench/results/chat_speed-<date>.json.

Direct: llama-cpp-python's token loop, `Llama.generate`, with the same stop; decode tokens/s =
(tokens - 1) / (time from the first token to the last). App: `python app.py` with TUNER_CHAT_THREADS, the /chat endpoint through
gradio_client; the engine's own decode tokens/s (same definition, measured inside the app) and the
client's view: tokens over the wall time from sending the message to the final update.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.workspace import Workspace  # noqa: E402
from inference import llama  # noqa: E402
from inference.chat import GenerationSettings, context_length, gguf_spec  # noqa: E402
from data.chat_format import history_lines, prompt_text  # noqa: E402

MESSAGE = "주말에 뭐 할 거야? 나는 한강 가서 치킨 먹을까 생각 중이야"


def build_demo_export(workspace: Workspace) -> Path:
    from core import artifacts
    from core.artifacts import ExportRequest
    from data.bundled import ensure_sample_dataset, install_sample
    from inference.export import export
    from tuning.config import recipe
    from tuning.launcher import train_command

    install_sample(workspace)
    ensure_sample_dataset(workspace)
    config = recipe("demo_cpu", dataset=str(workspace.dataset_dir("sample")))
    config_file = workspace.root / "bench-config.json"
    artifacts.write(config_file, config)
    run_dir = workspace.runs / "bench"
    subprocess.run(train_command(config.dataset, config.base_model, run_dir, config_file), cwd=ROOT, check=True,
                   capture_output=True, env={**os.environ, "TUNER_WORKSPACE": str(workspace.root), "HF_HUB_OFFLINE": "1"})
    out_dir = workspace.exports / "bench-final"
    export(ExportRequest(run_dir=str(run_dir), quants=["q4_k_m"], out_dir=str(out_dir), lora=False), workspace)
    return out_dir / "model-q4_k_m.gguf"


def direct(gguf_path: Path, threads: int | None, settings: GenerationSettings, repeats: int) -> list[dict]:
    """llama-cpp-python's token loop (`Llama.generate`) on the app's prompt, nothing around it."""
    from models.llama_worker import import_llama_cpp, load_llama

    llama_cpp = import_llama_cpp()
    spec = gguf_spec(gguf_path)
    prompt = prompt_text(history_lines([{"role": "user", "content": MESSAGE}], spec.prompt), spec.prompt)
    with llama.load(gguf_path, n_ctx=8, vocab_only=True) as vocab:  # the app's prompt ids, from its own worker
        prompt_ids = llama.encode(vocab, prompt, spec.prompt)
    llm = load_llama(str(gguf_path), n_ctx=context_length(spec), n_threads=threads)  # in this process
    results = []
    try:
        for _ in range(repeats + 1):
            llm.set_seed(settings.seed)
            tokens, first, last, text, started = 0, None, None, b"", time.perf_counter()
            for token in llm.generate(prompt_ids, top_k=settings.top_k, top_p=settings.top_p, min_p=0.0,
                                      temp=settings.temperature, repeat_penalty=settings.repeat_penalty):
                if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
                    break
                text += llm.detokenize([token])
                last = time.perf_counter()
                first = first or last
                tokens += 1
                if tokens >= settings.max_new_tokens or b"\nuser" in text:
                    break
            results.append({"tokens": tokens, "first_token_s": first - started,
                            "decode_tokens_per_s": (tokens - 1) / (last - first)})
    finally:
        llm.close()
    return results[1:]  # the first call warms caches


def through_app(workspace: Workspace, label: str, threads: int, settings: GenerationSettings, repeats: int) -> list[dict]:
    from gradio_client import Client

    from tests.app_server import running_app

    os.environ["TUNER_CHAT_THREADS"] = str(threads)
    values = [settings.temperature, settings.top_p, settings.top_k, settings.repeat_penalty,
              settings.max_new_tokens, settings.seed]
    results = []
    with running_app(workspace.root) as url:
        for _ in range(repeats + 1):
            client = Client(url, verbose=False)
            started = time.perf_counter()
            _, stats, _ = client.predict(label, MESSAGE, [], *values, api_name="/chat")
            wall = time.perf_counter() - started
            tokens = int(re.search(r"(\d+) tokens", stats)[1])
            engine = float(re.search(r"([\d.]+) tok/s", stats)[1])
            results.append({"tokens": tokens, "decode_tokens_per_s": engine, "client_tokens_per_s": tokens / wall})
    return results[1:]  # the first call loads the model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gguf", default=None, help="a GGUF inside a workspace's exports/ (default: build a demo export)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    if args.gguf:
        gguf_path = Path(args.gguf).resolve()
        workspace = Workspace.open(gguf_path.parent.parent.parent)
    else:
        workspace = Workspace.open(tempfile.mkdtemp(prefix="chat-bench-"))
        gguf_path = build_demo_export(workspace)
    label = f"{gguf_path.parent.name} · {gguf_path.stem.removeprefix('model-')}"
    settings = GenerationSettings(seed=7, max_new_tokens=args.max_tokens)

    direct_runs = direct(gguf_path, args.threads, settings, args.repeats)
    app_runs = through_app(workspace, label, args.threads, settings, args.repeats)
    median = lambda runs, key: round(statistics.median(run[key] for run in runs), 1)  # noqa: E731
    result = {
        "date": datetime.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": "python bench/chat_speed.py " + " ".join(sys.argv[1:]), "gguf": gguf_path.name,
        "gguf_mib": round(gguf_path.stat().st_size / 2**20, 1), "threads": args.threads, "repeats": args.repeats,
        "tokens": [run["tokens"] for run in direct_runs], "app_tokens": [run["tokens"] for run in app_runs],
        "direct_decode_tokens_per_s": median(direct_runs, "decode_tokens_per_s"),
        "app_decode_tokens_per_s": median(app_runs, "decode_tokens_per_s"),
        "app_client_tokens_per_s": median(app_runs, "client_tokens_per_s"),
    }
    print(json.dumps(result, ensure_ascii=False))
    out = ROOT / "bench" / "results" / f"chat_speed-{result['date']}.json"
    earlier = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else []  # runs of one day, in order
    out.write_text(json.dumps(earlier + [result], ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
