"""Try it with the sample: the bundled sample prepared, the demo model trained on it with the CPU
recipe (on a GPU, the smallest preset base model that is already in the Hugging Face cache, with the
QLoRA recipe for a short run), exported as q4_k_m, then Compare with the base and the fine-tune. Each stage is the ordinary
job (the Train tab's run, the Export tab's export), started when the one before has completed; the
stage reached is kept in workspace/quickstart.json, so a reload picks it up where it is."""
from __future__ import annotations

from core import artifacts
from core.artifacts import QuickstartState, TrainConfig
from core.errors import UserError
from core.exports import ExportDir
from core.i18n import Text
from core.runs import RunDir
from core.workspace import Workspace
from data.bundled import sample_dataset
from inference import export_jobs
from inference.catalog import DEMO_BASE
from models.presets import Preset
from models.resolve import weights_cached
from tuning import launcher
from tuning.choices import judged_presets
from tuning.config import Hardware, recipe

RUN_PREFIX = "try-sample"
STAGES = ("prepare", "train", "export", "chat")
SMALL_BILLIONS = 3.0   # a preset this small trains on the sample in minutes on a GPU
GPU_STEPS = 60


def start(workspace: Workspace, hardware: Hardware) -> QuickstartState:
    """Prepares the sample (unless it is prepared already) and starts training the demo model on it."""
    current = state(workspace)
    if current is not None and current.stage in ("train", "export"):
        raise UserError("The sample is already on its way: follow it here.", ko="샘플로 해 보기가 이미 진행 중입니다.")
    config, note = sample_recipe(workspace, hardware)
    run, _ = launcher.start(workspace, config, _free_run_name(workspace), hardware)
    return _write(workspace, QuickstartState(stage="train", run=run.name, base_model=config.base_model,
                                             note=str(note), note_ko=note.ko))


def sample_recipe(workspace: Workspace, hardware: Hardware) -> tuple[TrainConfig, Text]:
    """What "try it" trains, and a line that says which base and why: on a GPU the smallest preset that
    fits it and is in the Hugging Face cache already (nothing is downloaded for a try), else the demo."""
    dataset = str(sample_dataset(workspace))
    if not hardware.cuda:
        return recipe("demo_cpu", dataset=dataset), Text(
            "No NVIDIA GPU: the offline demo model, trained on the CPU.", "NVIDIA GPU 없음: 오프라인 데모 모델을 CPU로 학습합니다.")
    preset = small_cached_preset(hardware)
    if preset is None:
        return recipe("demo_cpu", dataset=dataset), Text(
            "No small base model of the Train tab's list is in your Hugging Face cache, so the offline demo model "
            "is used (download one there to try a real one).",
            "학습 탭 목록의 작은 베이스 모델이 Hugging Face 캐시에 없어 오프라인 데모 모델을 씁니다 "
            "(학습 탭에서 하나를 내려받으면 실제 모델로 해 볼 수 있습니다).")
    config = recipe("seed_qlora", dataset=dataset, base_model=preset.model_id, max_steps=GPU_STEPS)
    return config, Text(f"On your GPU: {preset.name}, found in your Hugging Face cache, {GPU_STEPS} steps of QLoRA.",
                        f"GPU에서: Hugging Face 캐시에 있는 {preset.name}을(를) QLoRA로 {GPU_STEPS}스텝 학습합니다.")


def small_cached_preset(hardware: Hardware) -> Preset | None:
    """The smallest preset that fits this GPU (a small one whose shape is not known yet is taken to fit),
    is no larger than SMALL_BILLIONS and whose weights are cached."""
    fitting = [choice.preset for choice in judged_presets(hardware)
               if choice.fits is not False and choice.preset.billions <= SMALL_BILLIONS
               and weights_cached(choice.preset.model_id)]
    return min(fitting, key=lambda preset: preset.billions, default=None)


def advance(workspace: Workspace, lang: str = "en") -> QuickstartState | None:
    """The state, moved on when the job of its stage has completed: a trained run is exported, an
    export is ready to chat with; a job that failed or was stopped ends it, with why."""
    current = state(workspace)
    if current is None or current.stage in ("chat", "failed"):
        return current
    if current.stage == "train":
        status, what = RunDir(workspace.runs / current.run).status(), Text("training", "학습이")
    else:
        status, what = ExportDir(workspace.exports / current.export).status(), Text("the export", "내보내기가")
    if status is None or status.state == "running":
        return current
    if status.state != "completed":
        return _failed(workspace, current, Text(f"{what} ended {status.state}", f"{what.ko} {status.state} 상태로 끝났습니다"),
                       status.error, status.error_ko)
    if current.stage == "train":
        target, _ = export_jobs.start(workspace, RunDir(workspace.runs / current.run), None, ["q4_k_m"], lora=False,
                                      lang=lang)
        return _write(workspace, current.model_copy(update={"stage": "export", "export": target.name}))
    return _write(workspace, current.model_copy(update={"stage": "chat"}))


def pair(current: QuickstartState) -> tuple[str, str]:
    """Compare's models once the sample is ready: the base (the demo's GGUF, or a preset through
    transformers) and the fine-tune's q4_k_m."""
    base = DEMO_BASE if current.base_model == "demo" else f"base-hf:{current.base_model}"
    return base, f"export:{current.export}/model-q4_k_m.gguf"


def state(workspace: Workspace) -> QuickstartState | None:
    try:
        return artifacts.read(workspace.quickstart, QuickstartState)
    except artifacts.UnreadableFile:
        return None


def _failed(workspace: Workspace, current: QuickstartState, what: Text, error: str | None,
            error_ko: str | None) -> QuickstartState:
    return _write(workspace, current.model_copy(update={
        "stage": "failed", "error": f"{what}: {error}" if error else str(what),
        "error_ko": f"{what.ko}: {error_ko or error}" if error else what.ko}))


def _write(workspace: Workspace, current: QuickstartState) -> QuickstartState:
    artifacts.write(workspace.quickstart, current)
    return current


def _free_run_name(workspace: Workspace) -> str:
    taken = set(path.name for path in workspace.runs.iterdir()) if workspace.runs.is_dir() else set()
    return next(name for number in range(1, 1000)
                if (name := RUN_PREFIX if number == 1 else f"{RUN_PREFIX}-{number}") not in taken)
