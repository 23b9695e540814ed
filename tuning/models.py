"""Finding a base model's tokenizer (and, later, weights): the demo, a local folder, or a hub id."""
from __future__ import annotations

from pathlib import Path

from core.errors import UserError
from core.workspace import Workspace

DEFAULT_BASE_MODEL = "beomi/Llama-3-Open-Ko-8B"


def load_tokenizer(spec: str, workspace: Workspace | None = None):
    from transformers import AutoTokenizer

    spec = (spec or "").strip()
    if spec == "demo":
        from tuning.demo_model import ensure_demo_tokenizer

        return AutoTokenizer.from_pretrained(ensure_demo_tokenizer(workspace or Workspace.open()))
    if not spec:
        raise UserError("No tokenizer given: choose 'demo', a local model folder, or a Hugging Face model id.")
    local = Path(spec).expanduser()
    try:
        if local.is_dir():
            return AutoTokenizer.from_pretrained(local)
        return AutoTokenizer.from_pretrained(spec)
    except (OSError, ValueError) as err:
        where = "the local folder" if local.is_dir() else "the Hugging Face hub (offline, or no such model?)"
        raise UserError(f"Could not load the tokenizer '{spec}' from {where}: {str(err).splitlines()[0]}") from err
