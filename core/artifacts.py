"""The files that one stage writes and another reads, as typed, versioned contracts: one pydantic
model per file, each with a `schema_version`. Files written before versions existed read as version
0 and are migrated on read; a file that cannot be read raises `UnreadableFile` with the reason.

    datasets/NAME/report.json          DatasetReport (its `config` is a PrepareConfig)
    datasets/NAME/train.jsonl, val.jsonl  DatasetExample rows
    runs/NAME/config.json              TrainConfig (also any --config file and every recipe)
    runs/NAME/status.json              RunStatus
    runs/NAME/metrics.jsonl            MetricsRow rows
    runs/NAME/prompt.json              PromptContract (how the run's adapters are prompted)
    runs/NAME/download.json            DownloadProgress (the base model's download)
    runs/NAME/adapter/training.json    AdapterInfo (how the adapter was trained, its PromptContract)
    exports/NAME/export.json           ExportManifest (files, verification, PromptContract)
    exports/NAME/status.json           ExportStatus (the export job)
    exports/NAME/*.verify.json         Verification
    votes.jsonl                        Vote rows
    chats/*.json                       SavedConversation

Paths to these files are named in `core.workspace`; reading and writing go through `read`, `write`,
`read_rows` and `append_row` below.
"""
from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field, field_validator, model_validator

from core import fileio
from core.errors import UserError
from core.i18n import Text

# --- reading and writing ---------------------------------------------------------------------


class UnreadableFile(UserError):
    """A contract file that exists but cannot be used; the message names the file and the reason."""

    def __init__(self, path: Path, reason: str, reason_ko: str | None = None):
        self.path, self.reason, self.reason_ko = Path(path), reason, reason_ko or reason
        super().__init__(f"{path}: {reason}", ko=f"{path}: {self.reason_ko}")


class Artifact(BaseModel):
    """A file between stages. Subclasses set SCHEMA_VERSION and, for each older version v, a function
    in MIGRATIONS[v] that turns a version-v dict into a version-(v+1) dict."""

    model_config = ConfigDict(extra="ignore")
    SCHEMA_VERSION: ClassVar[int] = 1
    MIGRATIONS: ClassVar[dict[int, Callable[[dict], dict]]] = {}

    schema_version: int = 0  # set to SCHEMA_VERSION on every object made or read (model_post_init)

    def model_post_init(self, context, /) -> None:
        self.schema_version = self.SCHEMA_VERSION

    @classmethod
    def from_dict(cls, data: dict, source: Path | str = "<data>"):
        """Validates `data`, migrating it first when it was written by an older version."""
        if not isinstance(data, dict):
            raise UnreadableFile(Path(source), f"expected a JSON object, found {type(data).__name__}",
                                 f"JSON 객체여야 하는데 {type(data).__name__}입니다")
        version = data.get("schema_version", 0)
        if not isinstance(version, int) or version > cls.SCHEMA_VERSION:
            raise UnreadableFile(Path(source), f"written by a newer version of the app (schema {version}, this one "
                                               f"reads up to {cls.SCHEMA_VERSION}); update the app",
                                 f"더 새로운 버전의 앱이 쓴 파일입니다(스키마 {version}, 이 앱은 {cls.SCHEMA_VERSION}까지 "
                                 "읽습니다). 앱을 업데이트하세요")
        for old in range(version, cls.SCHEMA_VERSION):
            data = cls.MIGRATIONS.get(old, dict)(dict(data))
        data = {**data, "schema_version": cls.SCHEMA_VERSION}
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            problems = describe_validation(err)
            raise UnreadableFile(Path(source), problems, problems) from None


def describe_validation(err: ValidationError) -> str:
    """A pydantic error as one line: `field: what is wrong; …`."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in err.errors())


A = TypeVar("A", bound=Artifact)


def read(path: Path, model: type[A]) -> A | None:
    """The file as `model`, None when it does not exist; UnreadableFile when it cannot be read."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise UnreadableFile(path, "is a folder, not a file", "파일이 아니라 폴더입니다") from None
    except UnicodeDecodeError:
        raise UnreadableFile(path, "is not UTF-8 text", "UTF-8 텍스트가 아닙니다") from None
    except OSError as err:
        raise UnreadableFile(path, f"could not be read ({err.strerror or err})",
                             f"읽을 수 없습니다({err.strerror or err})") from None
    return model.from_dict(parse_json(text, path), path)


def parse_json(text: str, path: Path | str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UnreadableFile(Path(path), f"not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})",
                             f"올바른 JSON이 아닙니다({err.lineno}번째 줄 {err.colno}번째 열: {err.msg})") from None


def write(path: Path, artifact: Artifact) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    fileio.write_json(path, artifact.model_dump(mode="json"))


def read_rows(path: Path, model: type[A], strict: bool = True) -> list[A]:
    """Rows of a JSON-lines file. strict: a bad row raises UnreadableFile naming its line; otherwise
    bad rows are skipped (a line being appended right now, or cut short by a crash)."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    try:
        with path.open(encoding="utf-8", errors="strict") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    try:
                        rows.append(_row(line, number, path, model))
                    except UnreadableFile:
                        if strict:
                            raise
    except UnicodeDecodeError:
        raise UnreadableFile(path, "is not UTF-8 text", "UTF-8 텍스트가 아닙니다") from None
    return rows


def _row(line: str, number: int, path: Path, model: type[A]) -> A:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as err:
        raise UnreadableFile(path, f"line {number}: not valid JSON (column {err.colno}: {err.msg})",
                             f"{number}번째 줄: 올바른 JSON이 아닙니다({err.colno}번째 열: {err.msg})") from None
    try:
        return model.from_dict(data, path)
    except UnreadableFile as err:
        raise UnreadableFile(path, f"line {number}: {err.reason}", f"{number}번째 줄: {err.reason_ko}") from None


def append_row(path: Path, row: Artifact, exclude_none: bool = False) -> None:
    """One line appended under an exclusive lock: concurrent writers never interleave or lose a row."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        out.write(json.dumps(row.model_dump(mode="json", exclude_none=exclude_none), ensure_ascii=False) + "\n")
        out.flush()
        fcntl.flock(out, fcntl.LOCK_UN)


def notes_removed(values: dict) -> dict:
    """A config file may carry notes for people in keys starting with "_" (recipes do)."""
    return {key: value for key, value in values.items() if not key.startswith("_")}


# --- data preparation ---------------------------------------------------------------------------

FORMATS = ("auto", "aihub", "kakao", "text", "messages", "sharegpt", "alpaca")
SPEAKER_STYLES = ("blog", "numbered")
PROMPT_FORMATS = ("lines", "chat_template")


# Personal information that preparation finds and masks (data/privacy.py), each with its placeholder.
PII_PLACEHOLDERS = {"phone": "<phone>", "rrn": "<id>", "card": "<card>", "account": "<account>", "email": "<email>",
                    "url": "<url>", "address": "<address>", "plate": "<plate>", "name": "<name>"}
PII_KINDS = tuple(PII_PLACEHOLDERS)


class PrepareConfig(Artifact):
    """Every option of data preparation, with the defaults the seed used where it had one."""

    model_config = ConfigDict(extra="forbid")

    inputs: list[str] = Field(min_length=1, description="files, folders or zips to read")
    format: Literal[FORMATS] = Field("auto", description="input format; auto detects it per file")
    speakers: Literal[SPEAKER_STYLES] = Field("blog", description="blog: user/bot as in the seed; numbered: user1, user2, …/bot")
    bot: str | None = Field(None, description="the speaker the bot learns to be; default: AI Hub speaker 2, "
                                              "the most active Kakao participant, the assistant role")
    mask_names: bool = Field(True, description="replace masked and real names with <name>")
    mask_pii: bool = Field(True, description="KakaoTalk and generic inputs: replace personal information (phone, "
                                             "registration, card and account numbers, emails, URLs, addresses, car "
                                             "plates, other people's names) with a placeholder of its kind")
    keep: list[Literal[PII_KINDS]] = Field(default_factory=list, description="kinds of personal information left as "
                                                                            "they are")
    val_ratio: float = Field(0.05, ge=0.0, lt=1.0, description="share of conversations held out for validation")
    seed: int = Field(42, description="seed of the train/validation split")
    max_length: int = Field(1024, ge=32, le=131072, description="longest example in tokens; longer chats are windowed")
    tokenizer: str = Field("demo", description="tokenizer for counting tokens: demo, a local folder or a hub id")
    gap_minutes: float = Field(60.0, gt=0, description="Kakao: a silence this long starts a new conversation")
    overlap_turns: int = Field(2, ge=0, le=32, description="turns repeated at the start of the next window")


class SkippedFile(BaseModel):
    source: str
    reason: str


class SkippedLine(BaseModel):
    source: str
    line: int
    reason: str


class DatasetCounts(BaseModel):
    """The figures a preparation reports (the Dataset tab's summary, the model card)."""

    files_read: int = 0
    files_skipped: int = 0
    conversations_found: int = 0
    conversations_kept: int = 0
    conversations_dropped: int = 0
    conversations_windowed: int = 0
    windowed_share: float = 0.0
    train_examples: int = 0
    val_examples: int = 0
    turns: int = 0
    speakers_per_conversation: dict[str, int] = Field(default_factory=dict)
    tokens_per_example: list[int] = Field(default_factory=list)
    max_length: int = 0


class DatasetReport(Artifact):
    """datasets/NAME/report.json: what preparation read, kept and skipped, and with which options."""

    config: PrepareConfig
    tokenizer: str
    counts: DatasetCounts = Field(default_factory=DatasetCounts)
    files: list[dict] = Field(default_factory=list)
    skipped_files: list[SkippedFile] = Field(default_factory=list)
    skipped_lines: list[SkippedLine] = Field(default_factory=list)
    skipped_line_count: int = 0
    dropped_conversations: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    masked: dict[str, int] = Field(default_factory=dict, description="personal information masked, by kind")

    SCHEMA_VERSION: ClassVar[int] = 2
    # Version 1 had no personal-information masking: such a dataset was prepared with it off.
    MIGRATIONS: ClassVar[dict] = {1: lambda old: {**old, "config": {**old.get("config", {}), "mask_pii": False}}}

    @property
    def speakers(self) -> str:
        return self.config.speakers

    def pii_masked(self) -> list[str]:
        """The kinds of personal information preparation masked (none for AI Hub's own tags alone)."""
        return [kind for kind in PII_KINDS if self.config.mask_pii and kind not in self.config.keep]


class ExampleMessage(BaseModel):
    role: Literal["user", "assistant"]
    speaker: str
    content: str


class DatasetExample(Artifact):
    """One row of train.jsonl / val.jsonl: a conversation (or a window of one) as it is trained."""

    source: str = ""
    format: str = ""
    subject: str = ""
    window: list[int] | None = None
    messages: list[ExampleMessage] = Field(min_length=1)
    text: str
    num_tokens: int = Field(ge=0)


# --- the prompt contract -------------------------------------------------------------------------


class PromptContract(Artifact):
    """How a model was trained to be prompted; chat, the Modelfiles and verification use exactly this.
    Written beside an adapter (AdapterInfo) and into every export (ExportManifest)."""

    prompt_format: Literal[PROMPT_FORMATS] = "lines"
    speakers: Literal[SPEAKER_STYLES] = "blog"
    # The tokens that end the bot's turn, as text: the tokenizer's end-of-sequence token, and for a chat
    # template its end-of-turn marker (`<|eot_id|>`, `<|im_end|>`, `<end_of_turn>`, …).
    end_tokens: list[str] = Field(default_factory=list)

    SCHEMA_VERSION: ClassVar[int] = 1
    # Version 0 kept the stop strings only: the end tokens are the ones that are not a text stop.
    MIGRATIONS: ClassVar[dict] = {0: lambda old: {"end_tokens": [
        stop for stop in old.get("stop", []) if not stop.startswith("\n")], **old}}

    @computed_field
    @property
    def user_label(self) -> str:
        return "user1" if self.speakers == "numbered" else "user"

    @property
    def text_stops(self) -> list[str]:
        """Stops that are text to look for: the start of the next user line (lines format only)."""
        return ["\nuser"] if self.prompt_format == "lines" else []

    @computed_field
    @property
    def stop(self) -> list[str]:
        return self.text_stops + [token for token in self.end_tokens if token not in self.text_stops]


def _contract(value):
    """A nested PromptContract goes through its own migrations too."""
    return PromptContract.from_dict(value, "prompt") if isinstance(value, dict) else value


class AdapterInfo(Artifact):
    """runs/NAME/adapter/training.json: what chat and export need to know about how it was trained."""

    base_model: str
    base_model_path: str | None = None
    prompt: PromptContract
    loss_on: Literal["all", "bot"] = "all"
    max_length: int = 1024

    MIGRATIONS: ClassVar[dict] = {0: lambda old: {**old, "prompt": {
        "prompt_format": old.get("prompt_format", "lines"), "speakers": old.get("speakers", "blog"),
        "end_tokens": ["<|eot_id|>", "<|end_of_text|>"] if old.get("prompt_format") == "chat_template"
        else ["<|end_of_text|>"]}}}  # version 0 was written only for Llama-3's tokens (the demo's are the same)

    _prompt = field_validator("prompt", mode="before")(_contract)


# --- training ------------------------------------------------------------------------------------

ALL_PROJECTIONS = "all"  # every attention and MLP projection of the model's own family (models.families)
DEFAULT_BASE_MODEL = "beomi/Llama-3-Open-Ko-8B"


class TrainConfig(Artifact):
    """The training config: one validated object whose defaults are the blog post's recipe. The UI
    fills it, a run stores it (`config.json`), recipes and `--config` files hold it."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="a prepared dataset folder (train.jsonl, val.jsonl)")
    base_model: str = Field(DEFAULT_BASE_MODEL, description="demo, a Hugging Face id, or a local model folder")
    backend: Literal["auto", "unsloth", "hf"] = Field(
        "auto", description="auto: Unsloth when CUDA is there and it imports, else transformers + PEFT")
    load_in_4bit: bool | None = Field(None, description="QLoRA: 4-bit base weights (default: on with CUDA)")
    lora_r: int = Field(16, ge=1, le=1024)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    lora_bias: Literal["none", "all", "lora_only"] = "none"
    target_modules: list[str] = Field(
        default_factory=lambda: [ALL_PROJECTIONS], min_length=1,
        description='"all": every projection of the model\'s family (Llama\'s seven, GPT-NeoX\'s four); or module names')
    max_length: int = Field(1024, ge=16, le=131072)
    batch_size: int = Field(2, ge=1, description="rows per step on the device (the micro-batch)")
    gradient_accumulation_steps: int = Field(4, ge=1)
    auto_batch_size: bool = Field(True, description="keep batch × accumulation, choose the largest batch that fits")
    plan_for_gpu_gib: float | None = Field(
        None, gt=0, description="choose batch and checkpointing as if the GPU had this much memory (default: its own) "
                                "and let the run allocate no more; 24 keeps a run within what an RTX 4090 holds")
    packing: bool = Field(True, description="pack short conversations into full rows; attention stays inside each")
    prompt_format: Literal[PROMPT_FORMATS] = Field(
        "lines", description="lines: `user: …`/`bot: …` text as the blog post; chat_template: the tokenizer's template")
    loss_on: Literal["all", "bot"] | None = Field(
        None, description="all: every token (the blog post); bot: only the bot's turns. Default: all for lines, "
                          "bot for chat_template")
    warmup_steps: int = Field(10, ge=0)
    learning_rate: float = Field(2e-4, gt=0, le=1.0)
    lr_scheduler_type: str = "linear"
    weight_decay: float = Field(0.01, ge=0)
    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, description="stop after this many optimizer steps; -1: run the epochs")
    logging_steps: int = Field(10, ge=1)
    save_steps: int = Field(50, ge=1, description="a checkpoint every this many steps")
    save_total_limit: int = Field(3, ge=1)
    eval_steps: int | None = Field(None, ge=1, description="validation loss every this many steps; default: logging_steps")
    seed: int = 3407
    bf16: bool | None = Field(None, description="default: on where the GPU supports it")
    optim: str | None = Field(None, description="default: adamw_8bit on CUDA, adamw_torch on CPU")
    gradient_checkpointing: bool = Field(
        True, description="recompute activations in backward; with Unsloth, layers that fit the GPU's room skip it")
    trust_remote_code: bool = False
    processes: int = Field(
        1, ge=1, le=64, description="training processes, one per GPU, kept in step by PyTorch's DDP (torchrun); on a "
                                    "machine without a GPU, CPU processes (gloo). Effective batch: batch × accumulation "
                                    "× processes; auto batch size keeps batch × accumulation in all")
    gpus: list[int] | None = Field(None, description="the GPUs (CUDA indices) to train on, one process each; "
                                                     "default: the first `processes`")

    @model_validator(mode="after")
    def _check_combinations(self):
        if self.gpus is not None:
            if len(set(self.gpus)) != len(self.gpus) or min(self.gpus, default=0) < 0 or not self.gpus:
                raise ValueError("gpus: different CUDA device numbers, 0 or more")
            if self.processes == 1:
                self.processes = len(self.gpus)
            elif self.processes != len(self.gpus):
                raise ValueError(f"gpus names {len(self.gpus)} GPUs but processes is {self.processes}: one process a GPU")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError("max_steps must be -1 (run the epochs) or a positive number of steps")
        if self.loss_on is None:
            self.loss_on = "bot" if self.prompt_format == "chat_template" else "all"
        if ALL_PROJECTIONS in self.target_modules and len(self.target_modules) > 1:
            raise ValueError('target_modules: "all" stands alone (it names every projection already)')
        return self

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size * self.gradient_accumulation_steps

    @classmethod
    def from_file(cls, path: Path, **overrides) -> "TrainConfig":
        """A config file (a run's config.json, a recipe, a --config file), notes ("_" keys) removed,
        with overrides; UnreadableFile, naming the file and the field, when it is not a valid config."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UnreadableFile(path, "no such file", "파일이 없습니다") from None
        except (IsADirectoryError, UnicodeDecodeError, OSError) as err:
            raise UnreadableFile(path, f"could not be read as a JSON file ({type(err).__name__})",
                                 f"JSON 파일로 읽을 수 없습니다({type(err).__name__})") from None
        values = parse_json(text, path)
        if not isinstance(values, dict):
            raise UnreadableFile(path, "a training config must be a JSON object ({...})",
                                 "학습 설정은 JSON 객체({...})여야 합니다")
        return cls.from_dict({**notes_removed(values), **overrides}, path)


class JobStatus(Artifact):
    """The state of a job running in a process of its own (a training run, an export)."""

    state: Literal["running", "completed", "failed", "stopped"]
    pid: int | None = None
    # When that process started (clock ticks since boot, /proc/PID/stat): a pid number is reused after a
    # reboot or a container restart, and only the same process may count as the job still running.
    pid_started: int | None = None
    started_at: float | None = None
    updated_at: float = Field(default_factory=time.time)
    error: str | None = None
    error_ko: str | None = None


class QuickstartState(Artifact):
    """workspace/quickstart.json: "try it with the sample", stage by stage over the ordinary jobs (the
    sample prepared, a training run, its export), so that a reload finds where it is."""

    stage: Literal["train", "export", "chat", "failed"]
    run: str
    export: str | None = None
    base_model: str = "demo"   # what was fine-tuned: the demo, or a small preset found in the cache
    note: str | None = None    # which base and why, as the page says it
    note_ko: str | None = None
    started_at: float = Field(default_factory=time.time)
    error: str | None = None
    error_ko: str | None = None


class RunStatus(JobStatus):
    """runs/NAME/status.json."""

    step: int = 0
    max_steps: int | None = None
    resumed_from: str | None = None
    # Layers this attempt left out of gradient checkpointing (0 until it has planned them), and
    # whether the run ran out of GPU memory, after which every layer is checkpointed.
    unchecked_layers: int = 0
    checkpoint_every_layer: bool = False
    phase: str | None = None  # download, prepare, train: what the process is doing before its first step


class DownloadProgress(Artifact):
    """runs/NAME/download.json: the base model's download, while a run fetches it from the Hub."""

    model: str
    bytes_done: int = 0
    bytes_total: int = 0
    started_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)
    done: bool = False

    @property
    def eta_s(self) -> float | None:
        elapsed, left = self.updated_at - self.started_at, self.bytes_total - self.bytes_done
        if self.bytes_done <= 0 or elapsed <= 0 or left < 0:
            return None
        return left / (self.bytes_done / elapsed)


class MetricsRow(Artifact):
    """One line of runs/NAME/metrics.jsonl: a training log step (loss …) or an evaluation (eval_loss)."""

    step: int
    epoch: float = 0.0
    time: float = 0.0
    loss: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    tokens_per_s: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None
    gpu_memory_gib: float | None = None
    eval_loss: float | None = None


# --- export --------------------------------------------------------------------------------------

QUANTS = ("f16", "q8_0", "q4_k_m", "q5_k_m", "q6_k")
Quant = Literal["f16", "q8_0", "q4_k_m", "q5_k_m", "q6_k"]


class Verification(Artifact):
    """exports/NAME/<file>.verify.json: a GGUF file against the merged model on fixed prompts."""

    passed: bool
    top1_agreement: float
    max_abs_diff_last: float
    tokenization_match: bool
    greedy_match: bool
    thresholds: dict[str, float]
    prompts: int
    reference: str


class PiiFinding(BaseModel):
    kind: str
    text: str      # the value found
    line: str      # the training line it is in
    source: str    # the file the conversation came from


class ProbedLine(BaseModel):
    """A training line the model was given the first half of, and what it wrote next."""
    prompt_half: str
    real_half: str
    continuation: str
    repeated: bool   # the continuation begins with the real second half, word for word


class PrivacyCheck(Artifact):
    """EXPORT/<file>.privacy.json: what the check before Publish found; kept beside the export, never
    published (it quotes the training data). The model card carries its counts only."""

    gguf: str
    dataset: str
    masked_kinds: list[str] = Field(default_factory=list, description="what preparation masked; empty: masking off")
    lines_scanned: int = 0
    remaining: dict[str, int] = Field(default_factory=dict, description="personal information still in the data")
    findings: list[PiiFinding] = Field(default_factory=list)
    probed: list[ProbedLine] = Field(default_factory=list)
    stamp: str = ""  # the GGUF file and the dataset it was checked against, for reuse

    @property
    def repeated(self) -> int:
        return sum(line.repeated for line in self.probed)

    @property
    def needs_confirmation(self) -> bool:
        return not self.masked_kinds or self.repeated > 0

    def reasons(self) -> list[Text]:
        reasons = []
        if not self.masked_kinds:
            reasons.append(Text("the dataset was prepared with personal-information masking off",
                                "데이터셋을 개인정보 가리기 없이 준비했습니다"))
        if self.remaining:
            found = ", ".join(f"{kind} {count}" for kind, count in self.remaining.items())
            reasons.append(Text(f"personal information is still in the training data ({found})",
                                f"학습 데이터에 개인정보가 남아 있습니다 ({found})"))
        if self.repeated:
            reasons.append(Text(f"the model repeated {self.repeated} of {len(self.probed)} probed training lines "
                                "word for word", f"모델이 확인한 학습 문장 {len(self.probed)}개 중 {self.repeated}개를 "
                                                 "그대로 이어 썼습니다"))
        return reasons


class ExportedFile(BaseModel):
    kind: Literal["f16", "q8_0", "q4_k_m", "q5_k_m", "q6_k", "lora"]
    file: str
    size_bytes: int
    verification: Verification
    applies_to: str | None = None  # a GGUF LoRA: the base GGUF it is applied on


class ExportManifest(Artifact):
    """exports/NAME/export.json: what an export wrote, how each file verified, and its prompt contract."""

    run: str
    checkpoint: str = "final"
    base_model: str
    prompt: PromptContract
    created_at: float
    timings: dict[str, float] = Field(default_factory=dict)
    files: list[ExportedFile] = Field(default_factory=list)
    verified: bool

    _prompt = field_validator("prompt", mode="before")(_contract)

    def file(self, name: str) -> ExportedFile | None:
        return next((result for result in self.files if result.file == name), None)


class ExportRequest(Artifact):
    """What an export makes: the run, which adapter (final or a checkpoint), which files."""

    model_config = ConfigDict(extra="forbid")

    run_dir: str
    checkpoint: str | None = Field(None, description="a checkpoint-N of the run; default: its final adapter")
    quants: list[Quant] = Field(default_factory=lambda: ["f16", "q8_0", "q4_k_m"], min_length=1)
    out_dir: str
    lora: bool = Field(True, description="also export the adapter as a GGUF LoRA, with the base model as GGUF")
    evaluate: bool = Field(False, description="then evaluate every file against the base on the run's held-out data")


class ExportStatus(JobStatus):
    """exports/NAME/status.json: the export job's progress (phase and share done)."""

    run: str = ""
    checkpoint: str = "final"
    phase: str = ""
    share: float = 0.0


# --- evaluation ----------------------------------------------------------------------------------


class StyleStats(BaseModel):
    """How a set of replies talks (data.style): each rate is the share of replies that show it."""

    replies: int = 0
    mean_chars: float = 0.0
    length_shares: list[float] = Field(default_factory=list)  # replies of ≤10, ≤20, ≤40, ≤80, >80 characters
    polite: float = 0.0       # every sentence ends in 존댓말
    casual: float = 0.0       # every sentence ends in 반말
    laughter: float = 0.0     # ㅋ or ㅎ
    crying: float = 0.0       # ㅠ or ㅜ
    emoji: float = 0.0
    tilde: float = 0.0
    question: float = 0.0
    hangul: float = 0.0       # share of the characters, not of the replies
    distinct_1: float = 0.0   # distinct words over all words
    distinct_2: float = 0.0   # distinct word pairs over all pairs
    repetition: float = 0.0   # the same word twice in a row
    empty: float = 0.0


class EvaluationContext(BaseModel):
    """A held-out point where the real person answered: what came before, and what they said."""

    source: str
    history: list[dict]       # {"role", "content"} messages, as the Chat tab sends them
    real_reply: str


class DepthLoss(BaseModel):
    depth: int                # the bot's n-th turn in its conversation (1: its first answer)
    loss: float
    tokens: int


class ModelEvaluation(BaseModel):
    model: str                # what was asked for: a path, FILE.gguf+LORA.gguf, base:MODEL, or a workspace id
    id: str | None = None     # its stable id, as the Chat tab and votes name it (core.artifacts, chat)
    label: str
    engine: Literal["gguf", "hf"]
    run: str | None = None    # for a run's adapter: the run and the step it was saved at
    step: int | None = None
    bot_loss: float
    perplexity: float
    bot_tokens: int
    loss_by_depth: list[DepthLoss] = Field(default_factory=list)
    style: StyleStats
    style_distance: float
    replies: list[str]
    seconds: float


class EvaluationRequest(Artifact):
    """What an evaluation compares: models, on a prepared dataset's held-out conversations."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    models: list[str] = Field(min_length=1)
    out_dir: str
    limit: int = Field(20, ge=1, le=1000, description="held-out contexts each model answers")
    seed: int = 0
    max_new_tokens: int = Field(64, ge=1, le=1024)
    workspace: str | None = None  # where workspace ids (export:…, run:…) are found


class Evaluation(Artifact):
    """evaluations/NAME/evaluation.json (or an export's evaluation/): every model's held-out bot-turn
    loss, its loss by turn depth, its replies to the same contexts and their style against the real one."""

    dataset: str
    created_at: float = Field(default_factory=time.time)
    seed: int
    max_new_tokens: int
    requested: list[str]      # labels of the models to evaluate; `models` holds those finished (all, once completed)
    conversations: int        # held-out conversations the losses are over
    loss_context: int         # tokens: a longer conversation's loss is over its first this-many tokens
    cut_conversations: int = 0  # conversations longer than that, for the model with the shortest context
    contexts: list[EvaluationContext]
    real_style: StyleStats    # the real replies' style, what each model's style_distance is measured from
    models: list[ModelEvaluation] = Field(default_factory=list)


class EvaluationStatus(JobStatus):
    """The evaluation job's progress: which model, what it is doing, how far."""

    evaluating: str | None = None  # the model being evaluated
    phase: str = ""
    share: float = 0.0


# --- chat ----------------------------------------------------------------------------------------
# Every model one can chat with has a stable id, kept in votes and saved conversations:
#   export:NAME/FILE.gguf    a file of exports/NAME (a GGUF LoRA: export:NAME/lora-f16.gguf, on its base)
#   base-gguf:BASE_MODEL     the base model as GGUF (from any export of it)
#   base-hf:BASE_MODEL       the base model through transformers
#   run:RUN/CHECKPOINT       a run's adapter (final, or checkpoint-N) through transformers, not exported
#   file:models/PATH.gguf    a GGUF file dropped into the workspace's models/
#   path:/ABSOLUTE.gguf      a GGUF file anywhere, typed into the picker


def model_id_of_old_label(label: str | None) -> str | None:
    """The id of a model named by the display label that votes stored before ids existed."""
    if not label:
        return label
    parts = label.split(" · ")
    if label.startswith("models/"):
        return f"file:{label}"
    if parts[0] == "base" and len(parts) == 3 and parts[2] == "f16 GGUF":
        return f"base-gguf:{parts[1]}"
    if parts[0] == "base" and len(parts) == 2 and parts[1].endswith(" (transformers)"):
        return f"base-hf:{parts[1].removesuffix(' (transformers)')}"
    if len(parts) == 2 and parts[1] == "LoRA on base":
        return f"export:{parts[0]}/lora-f16.gguf"
    if len(parts) == 2 and parts[1].endswith(" (transformers, not exported)"):
        return f"run:{parts[0]}/{parts[1].removesuffix(' (transformers, not exported)')}"
    if len(parts) == 2 and parts[1] in QUANTS:
        return f"export:{parts[0]}/model-{parts[1]}.gguf"
    return label



class Vote(Artifact):
    """One line of votes.jsonl: a blind judgement between two models, by their stable ids."""

    time: float = Field(default_factory=time.time)
    left: str                      # model id shown on the left (A) pane
    right: str
    left_label: str | None = None  # the names people saw once the vote revealed them
    right_label: str | None = None
    verdict: Literal["left", "right", "tie", "both_bad"]
    winner: str | None = None
    blind: bool = True
    conversation: str | None = None  # the saved conversation judged, relative to the workspace
    # A vote on an evaluation's replies: the evaluation, the held-out context, and the two replies judged
    evaluation: str | None = None
    context: list[dict] | None = None
    replies: dict[str, str] | None = None

    MIGRATIONS: ClassVar[dict] = {0: lambda old: {
        **old, "left": model_id_of_old_label(old.get("left")), "right": model_id_of_old_label(old.get("right")),
        "winner": model_id_of_old_label(old.get("winner")), "left_label": old.get("left"),
        "right_label": old.get("right")}}


class Pane(BaseModel):
    pane: str
    model: str | None = None       # the model's id; None while hidden in a blind round that was not voted
    label: str | None = None
    hidden: bool = False
    messages: list[dict] = Field(default_factory=list)


class SavedConversation(Artifact):
    """chats/*.json: both panes of a Compare round, with the generation settings."""

    saved_at: float = Field(default_factory=time.time)
    settings: dict = Field(default_factory=dict)
    panes: list[Pane]

    MIGRATIONS: ClassVar[dict] = {0: lambda old: {**old, "panes": [_old_pane(pane) for pane in old.get("panes", [])]}}


def _old_pane(pane: dict) -> dict:
    """Version 0 named a pane's model by its label, or "hidden (A)" in a blind round not voted on."""
    label = pane.get("model")
    hidden = str(label or "").startswith("hidden (")
    return {**pane, "hidden": hidden, "label": None if hidden else label,
            "model": None if hidden else model_id_of_old_label(label)}
