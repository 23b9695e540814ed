"""Finding a base model's tokenizer and weights: the demo (built offline on first use), a local
folder, or a Hugging Face id, downloaded to the Hugging Face cache with its progress reported (an
interrupted download resumes where it stopped). Weights load from safetensors only. A gated model's
token comes from the environment (HF_TOKEN), never from a file the app writes."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from core.artifacts import DEFAULT_BASE_MODEL
from core.errors import UserError
from core.workspace import Workspace

DEMO = "demo"
DEMO_MODEL_TYPE = "llama"
WEIGHT_PATTERNS = ["*.json", "*.safetensors", "tokenizer*", "*.jinja", "*.model"]
__all__ = ["DEFAULT_BASE_MODEL", "DEMO", "load_tokenizer", "resolve_model_path", "known_model_type",
           "known_chat_template", "weights_cached"]

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


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


def resolve_model_path(base_model: str, workspace: Workspace | None, progress: Progress | None = None) -> str:
    """A local folder for `base_model`: the demo (built if needed), a local folder, or a hub id
    downloaded to the Hugging Face cache (progress reported as it goes). A clear UserError when it
    cannot be had: no network, a gated model without a token, no such model."""
    if base_model == DEMO:
        from models.demo import ensure_demo_model

        return str(ensure_demo_model(workspace or Workspace.open()))
    local = Path(base_model).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise UserError(f"{local} has no config.json: it is not a Hugging Face model folder.",
                            ko=f"{local}에 config.json이 없습니다. Hugging Face 모델 폴더가 아닙니다.")
        return _with_safetensors(local)
    return _with_safetensors(Path(download(base_model, progress)))


def download(model_id: str, progress: Progress | None = None) -> str:
    """The model's files in the Hugging Face cache; what is already there (a download stopped
    part-way included) is not fetched again."""
    from huggingface_hub import snapshot_download

    try:
        if progress is None:
            return snapshot_download(model_id, allow_patterns=WEIGHT_PATTERNS)
        planned = snapshot_download(model_id, allow_patterns=WEIGHT_PATTERNS, dry_run=True,
                                    tqdm_class=_reporting_bars(lambda done, total: None))
        total = sum(item.file_size or 0 for item in planned)
        cached = sum(item.file_size or 0 for item in planned if not item.will_download)
        progress(cached, total)
        return snapshot_download(model_id, allow_patterns=WEIGHT_PATTERNS,
                                 tqdm_class=_reporting_bars(lambda done, _: progress(cached + done, total)))
    except Exception as err:  # noqa: BLE001 - every way it fails gets one line saying what to do
        raise _download_error(model_id, err) from None


def weights_cached(model_id: str) -> bool:
    """Whether the model's safetensors are all in the Hugging Face cache already (nothing to download)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(model_id, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return False
    index = folder / "model.safetensors.index.json"
    if index.is_file():  # sharded: every shard must be there, or training would download the rest
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError):
            return False
        return all((folder / shard).is_file() for shard in shards)
    return (folder / "model.safetensors").is_file()


def _download_error(model_id: str, err: Exception) -> UserError:
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    causes = [err]
    while causes[-1].__cause__ is not None and len(causes) < 8:  # a dry run's error wraps the Hub's own
        causes.append(causes[-1].__cause__)
    err = next((cause for cause in causes if isinstance(cause, (GatedRepoError, RepositoryNotFoundError))), err)

    if isinstance(err, GatedRepoError):
        return UserError(f"{model_id} is gated: accept its terms on https://huggingface.co/{model_id} with your account, "
                         "then give a Hugging Face token (the Train tab's token box, or HF_TOKEN).",
                         ko=f"{model_id}은(는) 접근 승인이 필요한 모델입니다. https://huggingface.co/{model_id} 에서 "
                            "계정으로 이용 조건에 동의한 뒤 Hugging Face 토큰을 입력하세요(학습 탭의 토큰 칸 또는 HF_TOKEN).")
    if isinstance(err, RepositoryNotFoundError):
        return UserError(f"There is no model '{model_id}' on the Hugging Face Hub (or it is private: give a token "
                         "that may read it). Check the id.",
                         ko=f"Hugging Face Hub에 '{model_id}' 모델이 없습니다(비공개라면 읽을 수 있는 토큰을 입력하세요). "
                            "ID를 확인하세요.")
    unreachable = ("LocalEntryNotFoundError", "OfflineModeIsEnabled", "ConnectError", "ConnectTimeout",
                   "TimeoutException", "DryRunError")  # a dry run says the repository cannot be reached
    if any(type(cause).__name__ in unreachable or isinstance(cause, LocalEntryNotFoundError) for cause in causes):
        return UserError(f"No network: '{model_id}' is not downloaded yet and the Hugging Face Hub cannot be reached. "
                         "Connect to the internet, or use 'demo' or a local model folder.",
                         ko=f"네트워크가 없습니다. '{model_id}'은(는) 아직 내려받지 않았고 Hugging Face Hub에 연결할 수 "
                            "없습니다. 인터넷에 연결하거나 'demo' 또는 로컬 모델 폴더를 쓰세요.")
    reason = str(err).splitlines()[0][:300] if str(err) else type(err).__name__
    return UserError(f"Could not get the model '{model_id}': {reason}. Without a network, use 'demo' or a local model "
                     "folder; with one, check the id and your Hugging Face token.",
                     ko=f"모델 '{model_id}'을(를) 가져오지 못했습니다: {reason}. 네트워크가 없으면 'demo'나 로컬 모델 "
                        "폴더를 쓰고, 네트워크가 있으면 모델 ID와 Hugging Face 토큰을 확인하세요.")


def _reporting_bars(report: Progress):
    """A progress-bar class for snapshot_download that prints nothing and reports the bytes written."""
    from huggingface_hub.utils import tqdm as hub_tqdm

    class ReportingBars(hub_tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self.written = kwargs.get("initial") or 0
            self.tracks_bytes = kwargs.get("name") == "huggingface_hub.snapshot_download"
            self.disable_reports = False

        def update(self, n=1):  # once per file piece written (10 MB) or per file: rare enough to report each
            self.written += n or 0
            if self.tracks_bytes:
                report(int(self.written), int(self.total or 0))

        def close(self):
            if self.tracks_bytes and not self.disable_reports:
                self.disable_reports = True
                report(int(self.written), int(self.total or 0))
            super().close()

    return ReportingBars


def known_model_type(base_model: str, workspace: Workspace | None = None) -> str | None:
    """The model's config.json `model_type` when it can be read without a download: the demo, a local
    folder, a hub id already in the Hugging Face cache. None otherwise."""
    if base_model == DEMO:
        return DEMO_MODEL_TYPE
    config = _local_config(base_model)
    return str(config.get("model_type", "")) if config is not None else None


def known_chat_template(base_model: str) -> bool | None:
    """Whether a local model folder's tokenizer carries a chat template; None when that cannot be told
    without a download (the demo's has one)."""
    if base_model == DEMO:
        return True
    local = Path(base_model).expanduser()
    if not local.is_dir():
        return None
    if (local / "chat_template.jinja").is_file():
        return True
    try:
        tokenizer_config = json.loads((local / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return bool(tokenizer_config.get("chat_template"))


def _local_config(base_model: str) -> dict | None:
    local = Path(base_model).expanduser()
    path = local / "config.json" if local.is_dir() else None
    if path is None:
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(base_model, "config.json")
            path = Path(cached) if isinstance(cached, str) else None
        except Exception:  # noqa: BLE001 - not a repo id: nothing cached under it
            path = None
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _with_safetensors(folder: Path) -> str:
    """Weights load from .safetensors only: a pickled .bin or .pt file can run code when loaded."""
    if not any(folder.glob("*.safetensors")):
        raise UserError(f"{folder} has no .safetensors weights. Only safetensors are loaded (pickled .bin/.pt files "
                        "can run code when opened); convert the model, or use a version published as safetensors.",
                        ko=f"{folder}에 .safetensors 가중치가 없습니다. 안전을 위해 safetensors만 불러옵니다(pickle로 된 "
                           ".bin/.pt 파일은 여는 순간 코드를 실행할 수 있습니다). 모델을 변환하거나 safetensors 버전을 쓰세요.")
    return str(folder)
