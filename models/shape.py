"""A model's shape (the sizes that decide its parameter count and memory), from its config.json, for
any family: grouped-query attention or not, explicit head sizes (Gemma), two- or three-matrix MLPs
(GPT-NeoX or gated), tied embeddings or not."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelShape:
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int
    tie_word_embeddings: bool = False
    head_dim: int | None = None       # None: hidden_size / num_attention_heads
    gated_mlp: bool = True            # gate, up and down projections (GPT-NeoX has two matrices)

    def __post_init__(self):
        if self.head_dim is None:
            object.__setattr__(self, "head_dim", self.hidden_size // self.num_attention_heads)

    @classmethod
    def from_config(cls, config: dict) -> "ModelShape":
        config = config.get("text_config", config)
        return cls(
            hidden_size=config["hidden_size"], intermediate_size=config["intermediate_size"],
            num_hidden_layers=config["num_hidden_layers"], num_attention_heads=config["num_attention_heads"],
            num_key_value_heads=config.get("num_key_value_heads") or config["num_attention_heads"],
            vocab_size=config["vocab_size"], tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            head_dim=config.get("head_dim"), gated_mlp=config.get("model_type") != "gpt_neox",
        )

    @classmethod
    def from_folder(cls, model_dir: str | Path) -> "ModelShape":
        return cls.from_config(json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8")))

    @property
    def embedding_parameters(self) -> int:
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    @property
    def layer_parameters(self) -> int:
        """Every decoder layer's weight matrices together: attention (q, k, v, o) and MLP."""
        query = self.num_attention_heads * self.head_dim
        key_value = self.num_key_value_heads * self.head_dim
        attention = 2 * self.hidden_size * query + 2 * self.hidden_size * key_value
        mlp = (3 if self.gated_mlp else 2) * self.hidden_size * self.intermediate_size
        return self.num_hidden_layers * (attention + mlp)

    @property
    def parameters(self) -> int:
        return self.embedding_parameters + self.layer_parameters


LLAMA3_8B = ModelShape(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                       num_key_value_heads=8, vocab_size=128256)
