"""Trainer callbacks that connect a run to its directory: progress files and stop requests."""
from __future__ import annotations

import time

import torch
from transformers import TrainerCallback

from core.artifacts import MetricsRow
from core.runs import RunDir
from tuning import distributed


class StopOnRequest(TrainerCallback):
    """Stops after the current step, with a checkpoint, once a stop is requested; with several
    processes, all of them at the step where any of them saw the request."""

    def __init__(self, stop):
        self.stop = stop

    def on_step_end(self, args, state, control, **kwargs):
        if distributed.any_process(self.stop.requested):
            control.should_save = True
            control.should_training_stop = True
        return control


class RunFiles(TrainerCallback):
    """Writes metrics.jsonl and keeps status.json's progress fresh at every logging step."""

    def __init__(self, run: RunDir, collator):
        self.run, self.collator = run, collator
        self.started = self.last_time = time.time()
        self.last_tokens = 0
        self.first_step = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = self.last_time = time.time()
        self.first_step = state.global_step
        self.run.write_status("running", step=state.global_step, max_steps=state.max_steps)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        now = time.time()
        row = MetricsRow(step=state.global_step, epoch=round(state.epoch or 0, 4), time=now)
        if "loss" in logs:
            steps_done = max(1, state.global_step - self.first_step)
            seconds_per_step = (now - self.started) / steps_done
            tokens = distributed.sum_over_processes(self.collator.real_tokens)  # every process logs this step
            row = row.model_copy(update=dict(
                loss=logs["loss"], learning_rate=logs.get("learning_rate"), grad_norm=logs.get("grad_norm"),
                tokens_per_s=round((tokens - self.last_tokens) / max(now - self.last_time, 1e-6), 1),
                elapsed_s=round(now - self.started, 1),
                eta_s=round(seconds_per_step * (state.max_steps - state.global_step), 1),
                gpu_memory_gib=_gpu_memory_gib()))
            self.last_time, self.last_tokens = now, tokens
            _say(f"step {state.global_step}/{state.max_steps} loss {logs['loss']:.4f} "
                  f"lr {logs.get('learning_rate', 0):.2e} {row.tokens_per_s:.0f} tok/s "
                  f"eta {row.eta_s:.0f}s", flush=True)
        elif "eval_loss" in logs:
            row = row.model_copy(update=dict(eval_loss=logs["eval_loss"]))
            _say(f"step {state.global_step} eval_loss {logs['eval_loss']:.4f}", flush=True)
        else:
            return
        self.run.append_metrics(row)
        self.run.write_status("running", step=state.global_step, max_steps=state.max_steps)


def _say(line: str, **kwargs) -> None:
    """Printed by the first process only: the others train the same steps."""
    if distributed.is_main():
        print(line, **kwargs)


def _gpu_memory_gib() -> float | None:
    if not torch.cuda.is_available():
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


