"""Other families than Llama on the GPU (issue 15): random-weight models of a preset's exact shape (no
weights can be downloaded on the GPU machine; speed and memory do not depend on their values) trained
through the project's own command with the Train tab's GPU defaults (the blog post's recipe, auto
batch, packing, the family's own LoRA targets, Unsloth where the family allows it), planned for a
24 GB card; and whether Unsloth trains Gemma 3 at all (one step of a bare Unsloth script).

    # here, on the CPU machine: each family's tokenizer (tests/families.py) and the datasets
    .venv/bin/python bench/gpu_families.py prepare
    # on the GPU machine, carrying .gpu-families and .whl (see ../shared/gpu/README.md)
    python3 bench/gpu_families.py run --presets LGAI-EXAONE/EXAONE-4.0-1.2B EleutherAI/polyglot-ko-12.8b --out $OUT
    python3 bench/gpu_families.py gemma3 --out $OUT

Tokens/s counts real tokens from step WARM_STEPS on; peak memory is torch.cuda.max_memory_allocated
(the run's metrics). The model's vocabulary is the real one; its tokenizer is the tiny family one (ids
fit), so rows hold the bundled sample's Korean as that tokenizer splits it.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ASSETS = ROOT / ".gpu-families"
STEPS = 14
WARM_STEPS = 4
CARD_GIB = 24
FAMILY_OF_TYPE = {"llama": "llama", "gpt_neox": "gpt_neox", "exaone4": "exaone4", "qwen2": "qwen2",
                  "qwen3": "qwen2", "gemma3_text": "gemma3_text"}  # model type -> the tiny tokenizer that serves it


def prepare(out: Path) -> None:
    """Tokenizers of every tiny family and the `full-1024` dataset of bench/gpu_training.py."""
    from bench.gpu_training import prepare as prepare_training
    from tests.families import TOKENIZERS

    shutil.rmtree(out, ignore_errors=True)
    prepare_training(out / "training")
    for family, make in TOKENIZERS.items():
        folder = out / "tokenizers" / family
        make(folder).save_pretrained(folder)
    shutil.rmtree(out / "training" / "demo")
    print(f"assets in {out}")


def make_model(preset_id: str, folder: Path) -> Path:
    """A random-weight bf16 model of the preset's exact shape, with its family's tiny tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM

    from models.presets import preset

    shape = preset(preset_id).shape
    model_type = {"GPT-NeoX": "gpt_neox", "EXAONE 4": "exaone4", "Qwen 2": "qwen2", "Qwen 3": "qwen3",
                  "Gemma 3": "gemma3_text", "Llama": "llama"}[preset(preset_id).family]
    config = _config(model_type, shape)
    started = time.time()
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config)
    torch.set_default_dtype(torch.float32)
    model.config.torch_dtype = torch.bfloat16
    model.save_pretrained(folder, max_shard_size="5GB")
    for item in (ASSETS / "tokenizers" / FAMILY_OF_TYPE[model_type]).iterdir():
        shutil.copy(item, folder / item.name)
    del model
    torch.cuda.empty_cache()
    print(f"made {preset_id}'s shape ({shape.parameters / 1e9:.2f} B) in {time.time() - started:.0f} s", flush=True)
    return folder


def _config(model_type: str, shape):
    from transformers import AutoConfig

    sizes = dict(vocab_size=shape.vocab_size, hidden_size=shape.hidden_size, intermediate_size=shape.intermediate_size,
                 num_hidden_layers=shape.num_hidden_layers, num_attention_heads=shape.num_attention_heads,
                 tie_word_embeddings=shape.tie_word_embeddings)
    if model_type == "gpt_neox":
        return AutoConfig.for_model(model_type, **sizes, rotary_pct=0.5, max_position_embeddings=2048,
                                    use_parallel_residual=True)
    extra = dict(num_key_value_heads=shape.num_key_value_heads, head_dim=shape.head_dim, max_position_embeddings=8192)
    if model_type == "gemma3_text":
        extra.update(query_pre_attn_scalar=shape.head_dim, sliding_window=512)
    return AutoConfig.for_model(model_type, **sizes, **extra)


def run(args) -> None:
    """Each preset's shape through `python -m tuning.train` (the Train tab's command and GPU defaults)."""
    from core import artifacts
    from core.runs import RunDir
    from tuning.config import recipe
    from tuning.launcher import train_command

    results = []
    for preset_id in args.presets:
        model_dir = make_model(preset_id, Path(tempfile.mkdtemp(prefix="family-model-")))
        run = RunDir(Path(tempfile.mkdtemp(prefix="family-run-")))
        config = recipe("seed_qlora", dataset=str(ASSETS / "training" / "datasets" / "full-1024"),
                        base_model=str(model_dir), max_steps=args.steps, logging_steps=1, save_steps=10 * args.steps,
                        plan_for_gpu_gib=CARD_GIB)
        artifacts.write(run.files.requested_config, config)
        started = time.time()
        finished = subprocess.run(train_command(config.dataset, config.base_model, run.path, run.files.requested_config),
                                  cwd=ROOT, capture_output=True, text=True)
        row = {"preset": preset_id, "returncode": finished.returncode, "seconds": round(time.time() - started, 1),
               "command": f"python3 bench/gpu_families.py run --presets {preset_id} --steps {args.steps}", **_machine()}
        if finished.returncode == 0:
            resolved = run.config()
            timed = [metrics for metrics in run.metrics() if metrics.loss is not None and metrics.step > WARM_STEPS]
            row.update(backend=resolved.backend, target_modules=resolved.target_modules,
                       unchecked_layers=run.status().unchecked_layers,
                       tokens_per_s=round(sum(m.tokens_per_s for m in timed) / len(timed)),
                       peak_gib=max(m.gpu_memory_gib or 0 for m in run.metrics()),
                       first_loss=next(m.loss for m in run.metrics() if m.loss is not None), last_loss=timed[-1].loss,
                       plan=[line for line in finished.stdout.splitlines() if line.startswith(("backend", "GPU memory"))
                             or " model, LoRA on " in line])
        else:
            row["log_tail"] = (finished.stdout + finished.stderr)[-2500:]
        print(json.dumps(row, ensure_ascii=False), flush=True)
        results.append(row)
        _save(args.out, "gpu_families", results)  # after each row: a call cut short keeps what finished
        shutil.rmtree(model_dir, ignore_errors=True)


def gemma3(args) -> None:
    """Whether Unsloth trains Gemma 3 with this stack: load in 4-bit, LoRA on the seven projections, one
    forward and backward on random tokens; the loss and the LoRA gradients must be finite and non-zero."""
    import unsloth  # noqa: F401
    import torch
    from unsloth import FastLanguageModel

    model_dir = make_model("google/gemma-3-1b-it", Path(tempfile.mkdtemp(prefix="gemma3-")))
    row = {"model": "google/gemma-3-1b-it shape", "command": "python3 bench/gpu_families.py gemma3", **_machine()}
    try:
        model, _ = FastLanguageModel.from_pretrained(str(model_dir), max_seq_length=1024, load_in_4bit=True)
        model = FastLanguageModel.get_peft_model(
            model, r=16, lora_alpha=32, lora_dropout=0.0, use_gradient_checkpointing="unsloth",
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        ids = torch.randint(10, 3000, (2, 512), device="cuda")
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        grads = [p.grad.abs().sum().item() for name, p in model.named_parameters() if "lora_" in name and p.grad is not None]
        row.update(loss=round(loss.item(), 4), lora_tensors_with_gradient=sum(g > 0 for g in grads),
                   trains=bool(torch.isfinite(loss)) and sum(g > 0 for g in grads) > 0)
    except Exception as err:  # noqa: BLE001 - the finding is whether it works, and why not
        row.update(trains=False, error=f"{type(err).__name__}: {str(err)[:800]}")
    print(json.dumps(row, ensure_ascii=False), flush=True)
    _save(args.out, "gpu_gemma3_unsloth", [row])


def _machine() -> dict:
    import torch

    return {"date": datetime.date.today().isoformat(), "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available()
            else None, "torch": torch.__version__, "python": platform.python_version()}


def _save(out: Path | None, name: str, results: list[dict]) -> None:
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}-{datetime.date.today().isoformat()}.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare")
    run_parser = commands.add_parser("run")
    run_parser.add_argument("--presets", nargs="+", required=True)
    run_parser.add_argument("--steps", type=int, default=STEPS)
    run_parser.add_argument("--out", type=Path, default=None)
    gemma_parser = commands.add_parser("gemma3")
    gemma_parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(ASSETS)
    elif args.command == "run":
        run(args)
    else:
        gemma3(args)


if __name__ == "__main__":
    main()
