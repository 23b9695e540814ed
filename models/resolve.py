"""Finding a base model's tokenizer and weights: the demo (built offline on first use), a local
folder, or a Hugging Face id (downloaded to the Hugging Face cache). Weights load from safetensors only."""
from __future__ import annotations

from pathlib import Path

from core.artifacts import DEFAULT_BASE_MODEL
from core.errors import UserError
from core.workspace import Workspace

DEMO = "demo"
__all__ = ["DEFAULT_BASE_MODEL", "DEMO", "load_tokenizer", "resolve_model_path"]


def load_tokenizer(spec: str, workspace: Workspace | None = None):
    from transformers import AutoTokenizer

    spec = (spec or "").strip()
    if spec == DEMO:
        from models.demo import ensure_demo_tokenizer

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


def resolve_model_path(base_model: str, workspace: Workspace | None) -> str:
    """A local folder for `base_model`: the demo (built if needed), a local folder, or a hub id
    downloaded to the Hugging Face cache. Offline with no local copy: a clear UserError."""
    if base_model == DEMO:
        from models.demo import ensure_demo_model

        return str(ensure_demo_model(workspace or Workspace.open()))
    local = Path(base_model).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise UserError(f"{local} has no config.json: it is not a Hugging Face model folder.",
                            ko=f"{local}에 config.json이 없습니다. Hugging Face 모델 폴더가 아닙니다.")
        return _with_safetensors(local)
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(base_model, allow_patterns=["*.json", "*.safetensors", "tokenizer*", "*.jinja"])
    except Exception as err:  # offline, gated, misspelt: all end the same way for the user
        reason = str(err).splitlines()[0][:300]
        raise UserError(
            f"Could not get the model '{base_model}': {reason}. Without a network, "
            "use 'demo' or a local model folder; with one, check the id and your Hugging Face token.",
            ko=f"모델 '{base_model}'을(를) 가져오지 못했습니다: {reason}. 네트워크가 없으면 'demo'나 로컬 모델 폴더를 "
               "쓰고, 네트워크가 있으면 모델 ID와 Hugging Face 토큰을 확인하세요.",
        ) from err
    return _with_safetensors(Path(folder))


def _with_safetensors(folder: Path) -> str:
    """Weights load from .safetensors only: a pickled .bin or .pt file can run code when loaded."""
    if not any(folder.glob("*.safetensors")):
        raise UserError(f"{folder} has no .safetensors weights. Only safetensors are loaded (pickled .bin/.pt files "
                        "can run code when opened); convert the model, or use a version published as safetensors.",
                        ko=f"{folder}에 .safetensors 가중치가 없습니다. 안전을 위해 safetensors만 불러옵니다(pickle로 된 "
                           ".bin/.pt 파일은 여는 순간 코드를 실행할 수 있습니다). 모델을 변환하거나 safetensors 버전을 쓰세요.")
    return str(folder)
