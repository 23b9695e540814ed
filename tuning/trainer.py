"""TRL's SFTTrainer, able to run where Triton is missing (CPU builds of PyTorch).

TRL 1.15 computes the SFT loss through a fused LM head whose kernel needs Triton; without it the
step fails. There, this falls back to the model's own loss (the transformers Trainer's), which is
the same next-token cross-entropy, as TRL's own deprecation note suggests (override compute_loss).
"""
from __future__ import annotations

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
        return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs,
                                    num_items_in_batch=num_items_in_batch)
