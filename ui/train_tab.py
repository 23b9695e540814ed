"""Train tab: pick a prepared dataset and a base model, press Start, and follow the run (loss plot,
progress, tokens/s, GPU memory, log) from its files, which survive page reloads and app restarts."""
from __future__ import annotations

import time

import gradio as gr
import pandas as pd

from core.artifacts import MetricsRow, RunStatus, TrainConfig, UnreadableFile
from core.errors import UserError
from core.runs import RunDir, list_runs
from core.workspace import Workspace
from models.presets import PRESETS
from models.resolve import DEMO
from tuning import launcher
from tuning.choices import judged_presets
from tuning.config import Hardware, recipe, resolve
from tuning.memory import memory_advice, shape_of
from tuning.plan import choose_batch_size
from ui.common import user_errors
from ui.forms import Form
from ui.i18n import T, lang, localized, say

REFRESH_S = 2.0
STATES_KO = {"starting": "시작 중", "running": "학습 중", "completed": "완료", "failed": "실패", "stopped": "중지됨"}


def create_train_tab(workspace: Workspace, hardware: Hardware) -> dict:
    defaults = recipe("seed_qlora" if hardware.cuda else "demo_cpu", dataset="-")
    datasets = workspace.dataset_names()
    with gr.Row():
        dataset = gr.Dropdown(label=T("Dataset", "데이터셋"), choices=datasets, value=datasets[0] if datasets else None,
                              allow_custom_value=True, info=T("prepared in the Dataset tab", "데이터셋 탭에서 준비한 것"))
        base_model = gr.Dropdown(label=T("Base model", "베이스 모델"), choices=_base_model_choices(),
                                 value=defaults.base_model, allow_custom_value=True,
                                 info=T("a preset below, demo (offline, CPU), a Hugging Face id, or a local folder",
                                        "아래 목록의 모델, demo (오프라인, CPU), Hugging Face id, 또는 로컬 폴더"))
        run_name = gr.Textbox(label=T("Run name", "실행 이름"), value=_new_run_name, elem_classes=["field-name"])
    with gr.Accordion(T("Base models: size, licence, fit, backend", "베이스 모델: 크기, 라이선스, 메모리, 백엔드"),
                      open=False):
        gr.Dataframe(value=lambda: _presets_frame(hardware), interactive=False, wrap=True, elem_id="presets",
                     column_widths=["16%", "20%", "8%", "6%", "16%", "8%", "12%", "14%"])
        hub_token = gr.Textbox(label=T("Hugging Face token (gated models)", "Hugging Face 토큰 (승인이 필요한 모델)"),
                               type="password", value="",
                               info=T("used to download the base model only; never saved or logged (or set HF_TOKEN)",
                                      "베이스 모델을 내려받을 때만 쓰고 저장하거나 기록하지 않습니다 (또는 HF_TOKEN)"))
    with gr.Row():
        max_steps = gr.Number(label=T("Max steps (-1: run the epochs)", "최대 스텝 (-1: 에폭 수만큼 학습)"),
                              value=defaults.max_steps, precision=0)
        epochs = gr.Number(label=T("Epochs", "에폭"), value=defaults.num_train_epochs)
        learning_rate = gr.Number(label=T("Learning rate", "학습률"), value=defaults.learning_rate)
    with gr.Accordion(T("Advanced (defaults: the blog post's recipe)", "고급 설정 (기본값: 블로그 글의 레시피)"), open=False):
        with gr.Row():
            lora_r = gr.Number(label="LoRA r", value=defaults.lora_r, precision=0)
            lora_alpha = gr.Number(label="LoRA alpha", value=defaults.lora_alpha, precision=0)
            lora_dropout = gr.Number(label=T("LoRA dropout", "LoRA 드롭아웃"), value=defaults.lora_dropout)
            max_length = gr.Number(label=T("Max length", "최대 길이"), value=defaults.max_length, precision=0)
        with gr.Row():
            batch_size = gr.Number(label=T("Batch size", "배치 크기"), value=defaults.batch_size, precision=0)
            accumulation = gr.Number(label=T("Gradient accumulation", "그래디언트 누적"),
                                     value=defaults.gradient_accumulation_steps, precision=0)
            auto_batch = gr.Checkbox(label=T("Auto batch size (keeps batch × accumulation)",
                                             "배치 크기 자동 (배치 × 누적 유지)"), value=defaults.auto_batch_size)
            packing = gr.Checkbox(label=T("Pack short conversations", "짧은 대화 패킹"), value=defaults.packing)
        with gr.Row():
            prompt_format = gr.Radio(
                label=T("Prompt format", "프롬프트 형식"), choices=["lines", "chat_template"], value=defaults.prompt_format,
                info=T("lines: user:/bot: text as the blog post; chat_template: the model's template",
                       "lines: 블로그 글처럼 user:/bot: 텍스트; chat_template: 모델의 대화 템플릿"))
            loss_on = gr.Radio(label=T("Loss on", "손실(loss) 계산 대상"), choices=["auto", "all", "bot"], value="auto",
                               info=T("auto: all tokens for lines, the bot's replies for chat_template",
                                      "auto: lines는 모든 토큰, chat_template은 봇의 답변만"))
            warmup = gr.Number(label=T("Warmup steps", "워밍업 스텝"), value=defaults.warmup_steps, precision=0)
            logging_steps = gr.Number(label=T("Log every (steps)", "로그 간격 (스텝)"), value=defaults.logging_steps,
                                      precision=0)
            save_steps = gr.Number(label=T("Checkpoint every (steps)", "체크포인트 간격 (스텝)"), value=defaults.save_steps,
                                   precision=0)
        with gr.Row():
            load_in_4bit = gr.Radio(label=T("4-bit base (QLoRA)", "4-bit 베이스 (QLoRA)"), choices=["auto", "on", "off"],
                                    value="auto")
            backend = gr.Radio(label=T("Backend", "백엔드"), choices=["auto", "unsloth", "hf"], value=defaults.backend)
            seed = gr.Number(label=T("Seed", "시드"), value=defaults.seed, precision=0)
            trust_remote_code = gr.Checkbox(
                label=T("Trust remote code", "원격 코드 신뢰"), value=defaults.trust_remote_code,
                info=T("runs Python code shipped with the model; only for models you trust",
                       "모델에 딸린 파이썬 코드를 실행합니다. 믿을 수 있는 모델에만 켜세요"))
        with gr.Row():
            processes = gr.Number(
                label=T("Processes", "프로세스 수"), value=defaults.processes, precision=0, minimum=1,
                info=T("one per GPU, kept in step by DDP (torchrun); without a GPU, CPU processes. "
                       "Effective batch: batch × accumulation × processes (auto batch size keeps it)",
                       "GPU마다 하나씩, DDP(torchrun)로 함께 학습합니다. GPU가 없으면 CPU 프로세스. "
                       "실제 배치 = 배치 × 누적 × 프로세스 수 (배치 크기 자동이면 그대로 유지)"))
            gpus = gr.CheckboxGroup(
                label=T("GPUs", "GPU"), choices=[(f"GPU {index}", index) for index in range(hardware.gpu_count)],
                value=[], visible=hardware.gpu_count > 1,
                info=T("which GPUs to train on, one process each (none ticked: the first ones)",
                       "학습에 쓸 GPU, 하나에 프로세스 하나 (고르지 않으면 앞에서부터)"))
    memory = gr.Markdown()
    with gr.Row():
        start_button = gr.Button(T("Start", "시작"), variant="primary")
        stop_button = gr.Button(T("Stop", "중지"), variant="stop")
        resume_button = gr.Button(T("Resume", "이어서 학습"))
    message = gr.Markdown()
    command = gr.Code(label=T("Command", "명령"), language="shell", lines=2, visible=False)  # shown once a run starts
    with gr.Row():
        # Choices change while the app runs (new runs), so any value is accepted and checked on use.
        runs = gr.Dropdown(label=T("Runs", "실행 목록"), choices=_run_choices(workspace), value=_newest_run(workspace),
                           interactive=True, allow_custom_value=True, info=_runs_info(workspace), elem_id="train-runs",
                           elem_classes=["field-run"])
        refresh_runs = gr.Button("↻", scale=0)
    progress = gr.HTML(elem_id="train-progress")
    loss_plot = gr.LinePlot(value=_empty_plot(), x="step", y="loss", color="series", title=T("Loss", "손실(loss)"),
                            height=280, color_map={"train": "#2563eb", "validation": "#f97316"}, visible=False,
                            elem_id="train-loss")
    log_tail = gr.Code(label=T("Log (tail)", "로그 (마지막 부분)"), language=None, lines=12, visible=False,
                       elem_id="train-log")
    timer = gr.Timer(REFRESH_S)

    form = Form(dataset=dataset, base_model=base_model, max_steps=max_steps, num_train_epochs=epochs,
                learning_rate=learning_rate, lora_r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                max_length=max_length, batch_size=batch_size, gradient_accumulation_steps=accumulation,
                auto_batch_size=auto_batch, packing=packing, prompt_format=prompt_format, loss_on=loss_on,
                warmup_steps=warmup, logging_steps=logging_steps, save_steps=save_steps, load_in_4bit=load_in_4bit,
                backend=backend, seed=seed, trust_remote_code=trust_remote_code, processes=processes, gpus=gpus)

    @user_errors
    def on_start(name, token, values):
        config = train_config(workspace, values)
        run, launched = launcher.start(workspace, config, name, hardware, token)
        started = say(f"Started **{run.name}**.", f"**{run.name}** 실행을 시작했습니다.")
        runs_update = gr.update(choices=_run_choices(workspace), value=run.name, info=_runs_info(workspace))
        return started, launcher.shown(launched, config, run, workspace), runs_update, _new_run_name()

    @user_errors
    def on_stop(selected):
        run = _selected_run(workspace, selected)
        launcher.stop(run)
        return say(f"Stopping **{run.name}** after the current step (a checkpoint is saved).",
                   f"**{run.name}**: 현재 스텝이 끝나면 중지합니다 (체크포인트를 저장합니다).")

    @user_errors
    def on_resume(selected, token):
        run = _selected_run(workspace, selected)
        checkpoint = run.last_checkpoint()
        launched = launcher.resume(workspace, run, hardware, token)
        if checkpoint is None:
            told = say(f"Starting **{run.name}** over from step 0 (it has no checkpoint yet), with the same settings.",
                       f"**{run.name}**: 체크포인트가 아직 없어 같은 설정으로 0단계부터 다시 시작합니다.")
        else:
            told = say(f"Resuming **{run.name}** from {checkpoint.name}.",
                       f"**{run.name}**: {checkpoint.name}부터 이어서 학습합니다.")
        return told, launcher.shown(launched, run.config(), run, workspace, resume=checkpoint is not None)

    def on_estimate(values):
        try:  # resolve: the same automatic choices the training process makes
            config = resolve(train_config(workspace, values), hardware)
        except (UserError, ValueError) as err:
            return say("Memory estimate: ", "메모리 예상치: ") + localized(err)
        shape = shape_of(config.base_model, workspace.models / "demo" if config.base_model == "demo" else None)
        batch_size, _ = choose_batch_size(config, hardware, shape)
        return localized(memory_advice(shape, batch_size, config.max_length, config.load_in_4bit, config.backend,
                                       hardware.gpu_name, hardware.gpu_memory_gib))

    show_command = dict(fn=lambda text: gr.update(visible=bool(text)), inputs=[command], outputs=[command],
                        api_visibility="private")
    start_button.click(form.handler(on_start, leading=("run_name", "hub_token")),
                       inputs=[run_name, hub_token, *form.inputs], outputs=[message, command, runs, run_name],
                       api_name="start_training").then(**show_command)
    stop_button.click(on_stop, inputs=[runs], outputs=[message], api_name="stop_training")
    resume_button.click(on_resume, inputs=[runs, hub_token], outputs=[message, command],
                        api_name="resume_training").then(**show_command)
    for component in (base_model, max_length, batch_size, load_in_4bit, backend):
        component.change(form.handler(on_estimate), inputs=form.inputs, outputs=[memory], show_progress="hidden")
    refresh_runs.click(lambda: gr.update(choices=_run_choices(workspace), info=_runs_info(workspace)), outputs=[runs])
    views = [progress, loss_plot, log_tail]
    runs.change(lambda selected: run_views(workspace, selected), inputs=[runs], outputs=views, api_name="run_views")
    # The timer's views also show the plot and the log only when they have something (not an API: the
    # endpoint above keeps returning plain values)
    timer.tick(lambda selected: shown_run_views(workspace, selected), inputs=[runs], outputs=views,
               show_progress="hidden")
    def newest_run_selected():
        return gr.update(choices=_run_choices(workspace), value=_newest_run(workspace), info=_runs_info(workspace))

    def on_page_load(values):
        """A reload shows the runs and datasets as they are now, the newest run selected."""
        return newest_run_selected(), gr.update(choices=workspace.dataset_names()), on_estimate(values)

    return {"datasets": dataset, "runs": runs, "newest_run_selected": newest_run_selected,
            "on_load": (form.handler(on_page_load), form.inputs, [runs, dataset, memory])}


def run_views(workspace: Workspace, selected: str | None):
    """Progress bar, loss plot and log tail of one run, read from its files; before any run, what to do."""
    if not selected:
        hint = say("No run yet: choose a dataset and a base model above and press Start (or ▶ Try it with the "
                   "sample). Its progress, loss curve and log appear here.",
                   "아직 실행이 없습니다: 위에서 데이터셋과 베이스 모델을 고르고 시작을 누르세요 (또는 ▶ 샘플로 해 보기). "
                   "진행 상황, 손실 그래프, 로그가 여기에 나타납니다.")
        return f"<div class='run-progress empty-state' data-state='none'>{_escape(hint)}</div>", _empty_plot(), ""
    run = RunDir(workspace.runs / selected)
    try:
        status = run.status()
    except UnreadableFile as err:
        return _unreadable_html(run, err), _empty_plot(), run.log_tail()
    metrics = run.metrics()
    return _progress_html(run, status, metrics), _loss_frame(metrics), run.log_tail()


def shown_run_views(workspace: Workspace, selected: str | None):
    """run_views(), the plot and the log shown only when they hold something."""
    progress, plot, log = run_views(workspace, selected)
    has_loss = bool(plot["loss"].notna().any())
    return progress, gr.update(value=plot, visible=has_loss), gr.update(value=log, visible=bool(log.strip()))


def _runs_info(workspace: Workspace):
    if list_runs(workspace.runs):
        return T("newest first", "최신 순")
    return T("none yet: a run appears here when you press Start", "아직 없음: 시작을 누르면 실행이 여기에 나타납니다")


def _unreadable_html(run: RunDir, err: UnreadableFile) -> str:
    reason = _escape(localized(err))
    return (f"<div class='run-progress' data-state='unreadable'><b>{run.name}</b>: "
            f"{say('cannot be read', '읽을 수 없음')}<div style='color:#c00'>{reason}</div></div>")


def _base_model_choices() -> list[tuple[str, str]]:
    return [(say("demo · offline demo model (CPU)", "demo · 오프라인 데모 모델 (CPU)"), DEMO)] + [
        (f"{preset.name} · {preset.billions:g} B · {preset.licence}", preset.model_id) for preset in PRESETS]


PRESET_COLUMNS = {"model": "모델", "Hugging Face id": "Hugging Face id", "family": "계열", "size": "크기",
                  "licence": "라이선스", "commercial use": "상업적 이용", "fits this machine": "이 컴퓨터에서",
                  "backend": "백엔드"}


def _presets_frame(hardware: Hardware) -> pd.DataFrame:
    """Every preset with its size, licence, whether it fits the GPU found, and its backend."""
    korean = lang() == "ko"
    rows = []
    for choice in judged_presets(hardware):
        preset = choice.preset
        licence = preset.licence + (say(" (gated: needs a token)", " (승인 필요: 토큰)") if preset.gated else "")
        rows.append([preset.name, preset.model_id, preset.family, f"{preset.billions:g} B", licence,
                     say("yes", "가능") if preset.commercial else say("no", "불가"), localized(choice.fit),
                     localized(choice.backend)])
    columns = list(PRESET_COLUMNS.values()) if korean else list(PRESET_COLUMNS)
    return pd.DataFrame(rows, columns=columns)


def _download_line(run: RunDir) -> str:
    from core import artifacts
    from core.artifacts import DownloadProgress

    progress = artifacts.read(run.files.download, DownloadProgress)
    if progress is None or progress.done:
        return say("downloading the base model…", "베이스 모델 내려받는 중…")
    done, total = progress.bytes_done / 1e9, progress.bytes_total / 1e9
    eta = f" · {say('ETA', '남은 시간')} {_duration(progress.eta_s)}" if progress.eta_s is not None else ""
    return say(f"downloading {progress.model}: {done:.2f} of {total:.2f} GB", 
               f"{progress.model} 내려받는 중: {total:.2f} GB 중 {done:.2f} GB") + eta


def _progress_html(run: RunDir, status: RunStatus | None, metrics: list[MetricsRow]) -> str:
    state = status.state if status else "starting"
    step, max_steps = (status.step, status.max_steps or 0) if status else (0, 0)
    last = next((row for row in reversed(metrics) if row.loss is not None), None)
    ko = lang() == "ko"
    parts = [f"<b>{run.name}</b>: {STATES_KO.get(state, state) if ko else state}",
             say("step", "스텝") + f" {step}/{max_steps or '?'}"]
    if state == "running" and status.phase == "download":
        parts.append(_escape(_download_line(run)))
    if last:
        parts.append(say("loss", "손실(loss)") + f" {last.loss:.4f}")
        parts.append(f"{last.tokens_per_s or 0:,.0f} " + say("tokens/s", "토큰/초"))
        if state == "running":
            parts.append(say("ETA", "남은 시간") + f" {_duration(last.eta_s)}")
        if last.gpu_memory_gib is not None:
            parts.append(say("GPU memory", "GPU 메모리") + f" {last.gpu_memory_gib:.2f} GiB")
    message = status and ((ko and status.error_ko) or status.error)
    error = f"<div style='color:#c00'>{_escape(message)}</div>" if message else ""
    bar = f"<progress value='{step}' max='{max(max_steps, 1)}' style='width:100%'></progress>"
    return f"<div class='run-progress' data-state='{state}'>{bar}<div>{' · '.join(parts)}</div>{error}</div>"


def _loss_frame(metrics: list[MetricsRow]) -> pd.DataFrame:
    rows = [{"step": row.step, "loss": row.loss, "series": "train"} for row in metrics if row.loss is not None]
    rows += [{"step": row.step, "loss": row.eval_loss, "series": "validation"} for row in metrics
             if row.eval_loss is not None]
    return pd.concat([_empty_plot(), pd.DataFrame(rows, columns=["step", "loss", "series"])], ignore_index=True)


def _empty_plot() -> pd.DataFrame:
    # One blank point per series, in every value: the plot's legend takes its entries from the first
    # value it draws and does not add them when data arrives later.
    return pd.DataFrame({"step": [float("nan")] * 2, "loss": [float("nan")] * 2, "series": ["train", "validation"]})


def train_config(workspace: Workspace, values: dict) -> TrainConfig:
    """The form's values (by TrainConfig field name) as the config; the page's choices become its values."""
    if not values.get("dataset"):
        raise UserError("Choose a dataset first (prepare one in the Dataset tab).",
                        ko="먼저 데이터셋을 고르세요 (데이터셋 탭에서 준비할 수 있습니다).", field="dataset")
    return TrainConfig.model_validate({
        **values, "dataset": str(workspace.dataset_dir(values["dataset"])),
        "base_model": (values.get("base_model") or "").strip() or "demo",
        "loss_on": None if values.get("loss_on") == "auto" else values.get("loss_on"),
        "load_in_4bit": {"auto": None, "on": True, "off": False}[values.get("load_in_4bit") or "auto"],
        "trust_remote_code": bool(values.get("trust_remote_code")),
        "processes": values.get("processes") or 1, "gpus": values.get("gpus") or None,
    })


def _selected_run(workspace: Workspace, selected: str | None) -> RunDir:
    if not selected:
        raise UserError("Choose a run first.", ko="먼저 실행을 고르세요.", field="run")
    run = RunDir(workspace.runs / selected)
    if not run.path.is_dir():
        raise UserError(f"There is no run named {selected}.", ko=f"이름이 {selected}인 실행이 없습니다.", field="run")
    return run


def _run_choices(workspace: Workspace) -> list[tuple[str, str]]:
    """(label, run name), newest first; a run that cannot be read is listed with why."""
    choices = []
    for entry in list_runs(workspace.runs):
        label = entry.run.name
        if entry.problem is not None:
            label += " ⚠️ " + say(f"cannot be read: {entry.problem.reason}", f"읽을 수 없음: {entry.problem.reason}")
        choices.append((label, entry.run.name))
    return choices


def _newest_run(workspace: Workspace) -> str | None:
    choices = _run_choices(workspace)
    return choices[0][1] if choices else None


def _new_run_name() -> str:
    return time.strftime("run-%Y%m%d-%H%M%S")


def _duration(seconds) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    minute, second = say("m", "분"), say("s", "초")
    return f"{seconds // 60}{minute} {seconds % 60:02d}{second}" if seconds >= 60 else f"{seconds}{second}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
