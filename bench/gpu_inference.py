"""What a GPU user's chat and export do on CUDA (issue 17), on Llama-3-8B's shape with random weights:

    # on the GPU machine, after bench/gpu_training.py compare (its project run is exported here) and
    # with llama-cpp-python built with CUDA (../shared/gpu/README.md):
    python3 bench/gpu_inference.py export --run RUN_DIR --work /tmp/gi --out $OUT
    python3 bench/gpu_inference.py chat --work /tmp/gi --out $OUT
    python3 bench/gpu_inference.py hf-chat --run RUN_DIR --out $OUT

export   the project's export of a trained 8B run (merge, f16, q4_k_m, verification), each step timed;
chat     the app's chat engine (inference.chat: the model cache, chat_stream and side_by_side, all
         layers on the GPU) against llama-cpp-python's own token loop on the same q4_k_m file, prompt,
         sampling settings and seed: decode tokens/s and time to first token; then Compare: two
         q4_k_m files answering at once, and f16 asked for while both answer, under the budget a
         24 GB card gets (80 %), which must refuse it with its reason;
compare  Compare alone, with --pair q8_0: two q8_0 files the converter writes (no quantization
         step, so it runs while llama.cpp's CUDA build compiles) and f16 refused while both answer;
hf-chat  the Chat tab's transformers path for the run's unexported adapter: the base in 4-bit (as
         QLoRA trained it), its memory against the cache's estimate, and its decode speed.

The random model never ends an answer on its own: every answer runs to --max-tokens.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.chat_speed import MESSAGE, direct  # noqa: E402  (llama-cpp-python's own token loop, the same prompt)

CARD_GIB = 24
GIB = 2**30


def export_run(args) -> dict:
    from core.artifacts import ExportRequest
    from core.workspace import Workspace
    from inference.export import export

    out_dir = args.work / "export"
    started = time.perf_counter()
    manifest = export(ExportRequest(run_dir=str(args.run), quants=["f16", "q4_k_m"], out_dir=str(out_dir),
                                    lora=False), Workspace.open(args.work / "workspace"))
    return {"command": f"python3 -m inference.export {args.run} --out {out_dir} --quant f16 q4_k_m --no-lora",
            "wall_s": round(time.perf_counter() - started, 1), "timings": manifest.timings,
            "files": [{"file": item.file, "gib": round(item.size_bytes / 2**30, 2),
                       "verification": item.verification.model_dump()} for item in manifest.files]}


def _settings(args):
    from inference.chat import GenerationSettings

    return GenerationSettings(seed=7, max_new_tokens=args.max_tokens)


def through_engine(cache, spec, settings, repeats: int) -> list[dict]:
    """The Chat tab's path without the web page: the cache's model, chat_stream, side_by_side."""
    from inference.chat import chat_stream, side_by_side

    runs = []
    for _ in range(repeats + 1):
        model = cache.get(spec)
        final = list(side_by_side([chat_stream(model, [{"role": "user", "content": MESSAGE}], settings)]))[-1][0]
        assert final.done and not final.error, final.error
        runs.append({"tokens": final.tokens, "first_token_s": final.first_token_s,
                     "decode_tokens_per_s": final.tokens_per_s})
    return runs[1:]


def median(runs: list[dict], key: str) -> float:
    return round(statistics.median(run[key] for run in runs), 3)


def _export_files(export_dir: Path, pair: str) -> dict[str, Path]:
    """The export's `pair` file twice (Compare's second model, as a second fine-tune's file would be:
    another name for the same bytes) and its f16 file."""
    files = {pair: export_dir / f"model-{pair}.gguf", f"{pair} (second file)": export_dir / f"model-{pair}-second.gguf",
             "f16": export_dir / "model-f16.gguf"}
    if not files[f"{pair} (second file)"].is_file():
        try:
            os.link(files[pair], files[f"{pair} (second file)"])
        except OSError:
            shutil.copyfile(files[pair], files[f"{pair} (second file)"])
    return files


def _assert_cuda_build() -> None:
    from models.gguf import is_cuda_build

    if shutil.which("nvidia-smi"):
        assert is_cuda_build(), "llama-cpp-python was built without CUDA"


def chat(args) -> dict:
    # No torch here: `direct` runs llama-cpp-python in this process, and its CUDA build crashes beside torch
    from inference.chat import ModelCache, gguf_spec

    _assert_cuda_build()
    files = _export_files(args.work / "export", "q4_k_m")
    settings = _settings(args)
    direct_runs = direct(files["q4_k_m"], None, settings, args.repeats)
    cache = ModelCache()
    engine_runs = through_engine(cache, gguf_spec(files["q4_k_m"]), settings, args.repeats)
    cache.close()
    single = {"gguf": files["q4_k_m"].name, "gguf_gib": round(files["q4_k_m"].stat().st_size / GIB, 2),
              "repeats": args.repeats, "max_tokens": args.max_tokens,
              "direct_tokens": [run["tokens"] for run in direct_runs],
              "app_tokens": [run["tokens"] for run in engine_runs],
              "direct_decode_tokens_per_s": median(direct_runs, "decode_tokens_per_s"),
              "app_decode_tokens_per_s": median(engine_runs, "decode_tokens_per_s"),
              "direct_first_token_s": median(direct_runs, "first_token_s"),
              "app_first_token_s": median(engine_runs, "first_token_s")}
    single["app_over_direct"] = round(single["app_decode_tokens_per_s"] / single["direct_decode_tokens_per_s"], 3)
    print(json.dumps(single), flush=True)
    return {"single": single, "compare": compare_under_budget(files, "q4_k_m", settings)}


def compare(args) -> dict:
    _assert_cuda_build()
    return {"compare": compare_under_budget(_export_files(args.work / "export", args.pair), args.pair, _settings(args))}


def compare_under_budget(files: dict[str, Path], pair: str, settings) -> dict:
    """Compare under a 24 GB card's budget: two `pair` files answering together, then f16 asked for
    while both answer. The f16 entry is listed (its spec and size read) beforehand, as the Chat tab's
    picker has it: reading them starts a llama.cpp worker, which on CUDA can outlast a short answer."""
    from inference.chat import ModelCache, _gpu_memory, chat_stream, estimate_bytes, gguf_spec, side_by_side

    budget = int(CARD_GIB * GIB * 0.8)
    f16_spec = gguf_spec(files["f16"])
    estimate_bytes(f16_spec)
    cache = ModelCache(budget_bytes=budget)
    pair_specs = [gguf_spec(files[pair]), gguf_spec(files[f"{pair} (second file)"])]
    models = [cache.get(spec) for spec in pair_specs]
    messages = [{"role": "user", "content": MESSAGE}]
    alone = [list(chat_stream(model, messages, settings))[-1] for model in models]
    refusal, both_streaming = {}, threading.Event()

    def ask_for_f16():
        both_streaming.wait()
        refusal["asked_while_answering"] = [model.lock.locked() for model in models]
        clock = time.perf_counter()
        try:
            cache.get(f16_spec)
            refusal["loaded"] = True
        except Exception as err:  # the refusal is what is measured
            refusal.update(type=type(err).__name__, message=str(err), ko=getattr(err, "ko", None))
        refusal["answered_in_s"] = round(time.perf_counter() - clock, 3)
        refusal["still_answering_then"] = [model.lock.locked() for model in models]

    asker = threading.Thread(target=ask_for_f16)
    asker.start()
    started = time.perf_counter()
    together = None
    for together in side_by_side([chat_stream(model, messages, settings) for model in models]):
        if all(reply is not None and reply.tokens >= 1 for reply in together):
            both_streaming.set()
    wall = time.perf_counter() - started
    both_streaming.set()
    asker.join()
    memory = _gpu_memory()
    result = {"budget_gib": round(budget / GIB, 1), "budget_is": f"80% of a {CARD_GIB} GB card",
              "estimates_gib": {kind: round(estimate_bytes(gguf_spec(path)) / GIB, 2) for kind, path in files.items()},
              "models": [spec.label for spec in pair_specs], "max_tokens": settings.max_new_tokens,
              "wall_s": round(wall, 2),
              "together": [{"tokens": reply.tokens, "decode_tokens_per_s": round(reply.tokens_per_s, 1),
                            "first_token_s": round(reply.first_token_s, 3), "error": str(reply.error) if reply.error else None}
                           for reply in together],
              "alone_decode_tokens_per_s": [round(reply.tokens_per_s, 1) for reply in alone],
              "same_text_as_alone": [a.text == b.text for a, b in zip(alone, together)],
              "third_f16": refusal, "loaded_after": [spec.label for spec in pair_specs if spec.key in cache.loaded],
              "gpu_memory_used_gib": round((memory[1] - memory[0]) / GIB, 2) if memory else None}
    cache.close()
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


def hf_chat(args) -> dict:
    """An unexported adapter through the Chat tab's catalog entry and transformers engine."""
    import torch

    from core.runs import RunDir
    from inference.chat import (GIB, ChatModelSpec, ModelCache, chat_stream, estimate_bytes, loads_in_4bit,
                                side_by_side)

    from core.workspace import Workspace
    from models.resolve import resolve_model_path

    run = RunDir(args.run)
    config = run.config()
    base_path = resolve_model_path(config.base_model, Workspace.open())
    spec = ChatModelSpec(id="run:bench/final", label="8B run · final (transformers)", kind="hf",
                         base_model=config.base_model, base_path=base_path,
                         adapter_dir=str(run.files.adapter_dir("final")), prompt=run.prompt_contract(),
                         load_in_4bit=bool(config.load_in_4bit))
    cuda = torch.cuda.is_available()
    cache = ModelCache()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated() if cuda else 0
    started = time.perf_counter()
    model = cache.get(spec)
    loaded_s = time.perf_counter() - started
    held = torch.cuda.memory_allocated() - before if cuda else 0
    settings = _settings(args)
    runs = []
    for _ in range(args.repeats + 1):
        final = list(side_by_side([chat_stream(model, [{"role": "user", "content": MESSAGE}], settings)]))[-1][0]
        assert final.done and not final.error, final.error
        runs.append({"tokens": final.tokens, "first_token_s": final.first_token_s,
                     "decode_tokens_per_s": final.tokens_per_s})
    runs = runs[1:]
    result = {"run_load_in_4bit": config.load_in_4bit, "loaded_in_4bit": loads_in_4bit(spec),
              "load_s": round(loaded_s, 1), "weights_on_gpu_gib": round(held / GIB, 2),
              "cache_estimate_gib": round(estimate_bytes(spec) / GIB, 2),
              "peak_gib": round(torch.cuda.max_memory_allocated() / GIB, 2) if cuda else None,
              "tokens": [run["tokens"] for run in runs], "decode_tokens_per_s": median(runs, "decode_tokens_per_s"),
              "first_token_s": median(runs, "first_token_s"), "max_tokens": args.max_tokens}
    cache.close()
    print(json.dumps(result), flush=True)
    return result


def _gpu_name() -> str:
    """Through nvidia-smi: importing torch would crash `chat`, which has llama.cpp's CUDA build in this process."""
    import subprocess

    if not shutil.which("nvidia-smi"):
        return "none"
    return subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", "--id=0"], capture_output=True,
                          text=True, check=False).stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["export", "chat", "compare", "hf-chat"])
    parser.add_argument("--run", type=Path, help="export, hf-chat: a trained run folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu-inference"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--pair", default="q4_k_m", help="compare: the quantization of the two files answering together")
    args = parser.parse_args()
    measure = {"export": export_run, "chat": chat, "compare": compare, "hf-chat": hf_chat}[args.what]
    record = {"date": datetime.date.today().isoformat(), "gpu": _gpu_name(), "cpus": os.cpu_count(),
              "command": "python3 bench/gpu_inference.py " + " ".join(sys.argv[1:]), **measure(args)}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"gpu_{args.what.replace('-', '_')}-{record['date']}.json"
    path.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main()
