"""LoRA/QLoRA fine-tuning: configs, models (including the offline demo model) and the training entry point."""
