"""How long an evaluation (inference.evaluate) takes: on this machine for the demo fine-tune on the
bundled sample, and on the lent GPU for a GGUF of Llama-3-8B's shape with every layer offloaded.

    # here (2 CPU cores): train the demo for 10 steps, export it, evaluate it with the defaults
    .venv/bin/python bench/evaluation_time.py cpu
    # here: the demo tokenizer and config the 8B shape is made with, into .gpu/demo
    .venv/bin/python bench/evaluation_time.py prepare
    # on the GPU machine, carrying .gpu, .llama and .whl (../shared/gpu/README.md): the model and its
    # f16 GGUF (while llama-cpp-python builds with CUDA), then q4_k_m and the evaluation
    TUNER_LLAMA_CONVERTERS=<sdist>/vendor/llama.cpp python3 bench/evaluation_time.py gpu-model --work /tmp/ev
    python3 bench/evaluation_time.py gpu --work /tmp/ev --out $OUT
    # or, on the files of an 8B export (bench/gpu_inference.py export): no model to make
    python3 bench/evaluation_time.py gpu --from-export /tmp/gi/export --work /tmp/ev --out $OUT

Both evaluate with the command's defaults (20 held-out contexts, 64 new tokens, seed 0) on the
bundled sample's held-out conversations. The GPU model has random weights of the real shape (no
weights can be downloaded there; time does not depend on their values, except that a random model
never ends a reply early: every reply runs to the 64-token limit, so reply time is an upper bound).
Writes bench/results/evaluation_time-<where>-<date>.json (or $OUT/ on the GPU).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "data" / "samples" / "aihub_synthetic"


def prepare_sample(workspace, tokenizer) -> Path:
    from data.prepare import PrepareConfig, prepare, write

    config = PrepareConfig(inputs=[str(SAMPLE)], val_ratio=0.05)
    return write(prepare(config, tokenizer), workspace.dataset_dir("sample"), config, "bench")


def timed_evaluation(dataset: Path, models: list[str], out: Path, workspace_root: Path) -> dict:
    """The command line, as a user runs it; wall time and each model's own seconds."""
    command = [sys.executable, "-m", "inference.evaluate", "--dataset", str(dataset), "--out", str(out),
               "--workspace", str(workspace_root), *[part for model in models for part in ("--model", model)]]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:  # the job's own files say how far it got
        status = out / "status.json"
        raise SystemExit(f"exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}\n"
                         f"{status.read_text() if status.is_file() else 'no status'}")
    print(result.stdout, flush=True)
    evaluation = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    return {"command": " ".join(command[1:]), "wall_s": round(wall, 1), "conversations": evaluation["conversations"],
            "contexts": len(evaluation["contexts"]),
            "models": [{"label": model["label"], "seconds": model["seconds"], "bot_loss": model["bot_loss"],
                        "bot_tokens": model["bot_tokens"],
                        "reply_tokens_max": len(model["replies"]) * evaluation["max_new_tokens"]}
                       for model in evaluation["models"]]}


def cpu() -> dict:
    from core.artifacts import ExportRequest
    from core.workspace import Workspace
    from inference.export import export
    from models.demo import ensure_demo_model
    from models.resolve import load_tokenizer

    root = Path(tempfile.mkdtemp(prefix="evaluation-time-"))
    workspace = Workspace.open(root / "workspace")
    ensure_demo_model(workspace)
    dataset = prepare_sample(workspace, load_tokenizer("demo", workspace))
    config = root / "config.json"
    config.write_text(json.dumps({"max_length": 256, "save_steps": 5, "warmup_steps": 2, "learning_rate": 0.002}))
    run_dir = workspace.runs / "bench"
    subprocess.run([sys.executable, "-m", "tuning.train", "--dataset", str(dataset), "--base-model", "demo", "--out",
                    str(run_dir), "--config", str(config), "--workspace", str(workspace.root), "--max-steps", "10"],
                   cwd=ROOT, check=True, capture_output=True)
    out = workspace.exports / "bench-final"
    export(ExportRequest(run_dir=str(run_dir), quants=["f16", "q4_k_m"], out_dir=str(out)), workspace)
    models = [str(out / "base-f16.gguf"), str(out / "model-f16.gguf"), str(out / "model-q4_k_m.gguf"),
              str(out / "merged"), "run:bench"]
    return timed_evaluation(dataset, models, root / "evaluation", workspace.root)


def prepare_gpu() -> None:
    """The demo's config and tokenizer (no weights): bench/gpu_training.py makes the 8B shape with them."""
    import shutil

    from core.workspace import Workspace
    from models.demo import ensure_demo_model

    demo = ensure_demo_model(Workspace.open(tempfile.mkdtemp(prefix="evaluation-time-")))
    target = ROOT / ".gpu" / "demo"
    target.mkdir(parents=True, exist_ok=True)
    for item in demo.iterdir():
        if item.name == "config.json" or item.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy(item, target / item.name)
    print(f"prepared {target}")


def gpu_model(work: Path, kinds: list[str]) -> dict:
    """The random 8B-shape model and its GGUF files (f16, q8_0: the converter's own types), through the
    project's converter, the kinds converted at once (each converter is one busy core)."""
    from concurrent.futures import ThreadPoolExecutor

    from bench.gpu_training import make_8b_model
    from models.gguf import convert_file

    work.mkdir(parents=True, exist_ok=True)
    clock = time.perf_counter()
    model_dir = make_8b_model(ROOT / ".gpu")
    timings = {"make_model_s": round(time.perf_counter() - clock, 1)}

    def convert_kind(kind: str) -> None:
        clock = time.perf_counter()
        convert_file(model_dir, work / f"model-{kind}.gguf", extra=["--outtype", kind])
        timings[f"convert_{kind}_s"] = round(time.perf_counter() - clock, 1)

    with ThreadPoolExecutor(len(kinds)) as pool:
        list(pool.map(convert_kind, kinds))
    (work / "timings.json").write_text(json.dumps(timings))
    return timings


def gpu_export(export_dir: Path, work: Path) -> dict:
    """The q4_k_m and f16 files of an export of a trained 8B-shape run (bench/gpu_inference.py export)."""
    import torch
    from transformers import AutoTokenizer

    from core.workspace import Workspace
    from models.gguf import is_cuda_build

    assert is_cuda_build(), "llama-cpp-python was built without CUDA"
    files = {kind: export_dir / f"model-{kind}.gguf" for kind in ("q4_k_m", "f16")}
    workspace = Workspace.open(work / "workspace")
    dataset = prepare_sample(workspace, AutoTokenizer.from_pretrained(export_dir / "merged"))
    evaluation = timed_evaluation(dataset, [str(path) for path in files.values()], work / "evaluation", workspace.root)
    return {**evaluation, "gguf_bytes": {kind: path.stat().st_size for kind, path in files.items()},
            "gpu": torch.cuda.get_device_name(0), "n_gpu_layers": -1, "export": str(export_dir)}


def gpu(work: Path) -> dict:
    import torch
    from transformers import AutoTokenizer

    from bench.gpu_training import MODEL_8B
    from core.workspace import Workspace
    from inference import llama
    from models.gguf import is_cuda_build

    assert is_cuda_build(), "llama-cpp-python was built without CUDA"
    timings = json.loads((work / "timings.json").read_text())
    f16, q4 = work / "model-f16.gguf", work / "model-q4_k_m.gguf"
    clock = time.perf_counter()
    llama.quantize(f16, q4, "q4_k_m", threads=os.cpu_count() or 0)
    timings["quantize_q4_k_m_s"] = round(time.perf_counter() - clock, 1)
    workspace = Workspace.open(work / "workspace")
    dataset = prepare_sample(workspace, AutoTokenizer.from_pretrained(MODEL_8B))
    evaluation = timed_evaluation(dataset, [str(q4), str(f16)], work / "evaluation", workspace.root)
    return {**evaluation, **timings, "gguf_bytes": {"q4_k_m": q4.stat().st_size, "f16": f16.stat().st_size},
            "gpu": torch.cuda.get_device_name(0), "n_gpu_layers": -1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("where", choices=["cpu", "prepare", "gpu-model", "gpu"])
    parser.add_argument("--work", default="/tmp/evaluation-time", help="gpu: where the model files are made")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--kinds", nargs="+", default=["f16"], choices=["f16", "q8_0"],
                        help="gpu-model: the GGUF files to convert")
    parser.add_argument("--from-export", default=None, metavar="DIR",
                        help="gpu: evaluate this export's q4_k_m and f16 files instead of making a model")
    args = parser.parse_args()
    if args.where == "prepare":
        return prepare_gpu()
    if args.where == "gpu-model":
        return print(json.dumps(gpu_model(Path(args.work), args.kinds)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.where == "cpu":
        measured = cpu()
    elif args.from_export:
        measured = gpu_export(Path(args.from_export), Path(args.work))
    else:
        measured = gpu(Path(args.work))
    record = {"date": datetime.date.today().isoformat(), "machine": platform.node(), "cpus": os.cpu_count(),
              "python": platform.python_version(), **measured}
    path = out / f"evaluation_time-{args.where}-{record['date']}.json"
    path.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(record, ensure_ascii=False))


if __name__ == "__main__":
    main()
