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
        raise UserError("No tokenizer given: choose 'demo', a local model folder, or a Hugging Face model id.",
                        ko="토크나이저가 지정되지 않았습니다. 'demo', 로컬 모델 폴더, Hugging Face 모델 ID 중에서 고르세요.")
    local = Path(spec).expanduser()
    try:
        if local.is_dir():
            return AutoTokenizer.from_pretrained(local)
        return AutoTokenizer.from_pretrained(spec)
    except (OSError, ValueError) as err:
        where = "the local folder" if local.is_dir() else "the Hugging Face hub (offline, or no such model?)"
        where_ko = "로컬 폴더" if local.is_dir() else "Hugging Face 허브(오프라인이거나 없는 모델인가요?)"
        first_line = str(err).splitlines()[0]
        raise UserError(f"Could not load the tokenizer '{spec}' from {where}: {first_line}",
                        ko=f"{where_ko}에서 토크나이저 '{spec}'을(를) 불러오지 못했습니다: {first_line}") from err
