"""TRL's SFTTrainer, able to run where Triton is missing (CPU builds of PyTorch).

TRL 1.15 computes the SFT loss through a fused LM head whose kernel needs Triton; without it the
step fails. There, this falls back to the model's own loss (the transformers Trainer's), which is
the same next-token cross-entropy, as TRL's own deprecation note suggests (override compute_loss),
normalized as TRL's is: over the tokens of the whole optimizer step, on every process and in every
accumulated micro-batch, so that several processes train exactly as one with the same batch.
"""
from __future__ import annotations

import os

from transformers import Trainer
from trl import SFTTrainer
from trl.trainer import utils as trl_utils


def fused_loss_available() -> bool:
    import torch

    return getattr(trl_utils, "_ChunkedLogProbFunction", None) is not None and torch.cuda.is_available()


class ChatSFTTrainer(SFTTrainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if fused_loss_available():
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        if num_items_in_batch is None:  # evaluation: the mean over this batch's tokens
            return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs)
        outputs = model(**inputs, num_items_in_batch=num_items_in_batch)  # summed, over the step's token count
        loss = outputs.loss
        if self.args.average_tokens_across_devices:  # DDP averages gradients; the count is over every process
            loss = loss * self.accelerator.num_processes
        return (loss, outputs) if return_outputs else loss

    def _load_optimizer_and_scheduler(self, checkpoint):
        # With several CPU processes transformers maps the optimizer state to the device "cpu:0", which
        # torch.load cannot restore to: there, the CPU it is
        if checkpoint is None or not (self.args.world_size > 1 and self.args.device.type == "cpu"):
            return super()._load_optimizer_and_scheduler(checkpoint)
        import torch
        from transformers.trainer import OPTIMIZER_NAME, SCHEDULER_NAME

        self.optimizer.load_state_dict(torch.load(os.path.join(checkpoint, OPTIMIZER_NAME), map_location="cpu",
                                                  weights_only=True))
        self.lr_scheduler.load_state_dict(torch.load(os.path.join(checkpoint, SCHEDULER_NAME), weights_only=True))
