"""How long the offline demo takes on this machine: building the demo model, then a training run
with the demo recipe (tuning/recipes/demo_cpu.json) through the same command the Train tab runs.

    .venv/bin/python bench/demo_run.py [--workspace DIR]

Prints one JSON line and writes it to bench/results/demo_run-<date>.json.
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

from core.workspace import Workspace  # noqa: E402
from data.bundled import ensure_sample_dataset  # noqa: E402
from core import artifacts  # noqa: E402
from core.runs import RunDir  # noqa: E402
from models.demo import ensure_demo_model  # noqa: E402
from tuning.config import recipe  # noqa: E402
from tuning.launcher import train_command  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", default=None, help="default: a new temporary folder (cold start)")
    args = parser.parse_args()
    workspace = Workspace.open(args.workspace or tempfile.mkdtemp(prefix="demo-bench-"))

    started = time.perf_counter()
    ensure_demo_model(workspace)
    build_s = time.perf_counter() - started
    ensure_sample_dataset(workspace)

    run = RunDir(workspace.runs / "bench")
    config = recipe("demo_cpu", dataset=str(workspace.dataset_dir("sample")))
    config_file = workspace.root / "bench-config.json"
    artifacts.write(config_file, config)
    command = train_command(config.dataset, config.base_model, run.path, config_file)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "TUNER_WORKSPACE": str(workspace.root), "HF_HUB_OFFLINE": "1"})
    run_s = time.perf_counter() - started
    losses = [row for row in run.metrics() if row.loss is not None]
    result = {
        "date": datetime.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": "python bench/demo_run.py", "demo_model_build_s": round(build_s, 1),
        "train_run_s": round(run_s, 1), "steps": run.status().step, "max_length": config.max_length,
        "first_loss": losses[0].loss, "last_loss": losses[-1].loss,
        "tokens_per_s": round(sum(r.tokens_per_s for r in losses) / len(losses), 1),
    }
    print(json.dumps(result))
    out = ROOT / "bench" / "results" / f"demo_run-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
