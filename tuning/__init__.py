"""LoRA/QLoRA fine-tuning: recipes and their machine resolution, the plan (memory, batch, checkpointing),
the recipe itself, the training process and its CLI, and launching runs from the app."""
