"""Dataset tab: read chat logs (uploaded or in the workspace), see them exactly as the trainer
will, and save the prepared dataset in the workspace by name."""
from __future__ import annotations

import functools
import hashlib
import shutil
from pathlib import Path

import gradio as gr
import pandas as pd

from core.artifacts import FORMATS, PII_KINDS, SPEAKER_STYLES, PrepareConfig
from core.errors import UserError
from core.fileio import atomic_path
from core.workspace import Workspace, check_name
from data import bundled, privacy
from data.chat_format import visible_tokens
from data.prepare import Prepared, prepare, write
from models.resolve import load_tokenizer
from ui.common import has_rows, user_errors
from ui.forms import Form
from ui.i18n import T, lang, localized, say

PREVIEW_EXAMPLES = 3
MASKED_LINES_SHOWN = 20
PII_LABELS = {"phone": ("phone numbers", "전화번호"), "rrn": ("registration numbers", "주민·외국인등록번호"),
              "card": ("card numbers", "카드 번호"), "account": ("bank accounts", "계좌 번호"), "email": ("emails", "이메일"),
              "url": ("links", "링크"), "address": ("addresses", "주소"), "plate": ("car plates", "차량 번호"),
              "name": ("other people's names", "다른 사람 이름")}
HISTOGRAM_BINS = 12


def create_dataset_tab(workspace: Workspace) -> dict:
    defaults = PrepareConfig(inputs=["-"])
    with gr.Row():
        uploads = gr.File(label=T("Upload chat files or zips (.json, .jsonl, .txt, .csv, .zip)",
                                  "대화 파일 또는 zip 업로드 (.json, .jsonl, .txt, .csv, .zip)"),
                          file_count="multiple", file_types=[".json", ".jsonl", ".txt", ".csv", ".zip"])
        with gr.Column():
            source_path = gr.Dropdown(label=T("…or a file or folder inside the workspace",
                                              "…또는 작업 폴더 안의 파일이나 폴더"),
                                      choices=workspace_sources(workspace), value=bundled.AIHUB_SAMPLE,
                                      allow_custom_value=True)
            fmt = gr.Dropdown(label=T("Format", "형식"), choices=list(FORMATS), value=defaults.format)
    with gr.Accordion(T("Options", "옵션"), open=True):
        with gr.Row():
            speakers = gr.Radio(label=T("Speaker labels", "화자 표기"), choices=list(SPEAKER_STYLES),
                                value=defaults.speakers,
                                info=T("blog: user/bot as in the blog post; numbered: user1, user2, … for group chats",
                                       "blog: 블로그 글처럼 user/bot; numbered: 단체 대화용 user1, user2, …"))
            bot = gr.Textbox(label=T("Bot speaker", "봇 화자"), value="",
                             placeholder=T("default: AI Hub speaker 2 / most active Kakao name",
                                           "기본값: AI Hub 화자 2 / 카카오톡에서 가장 많이 말한 사람"),
                             info=T("the speaker whose replies the model learns", "모델이 답변을 학습할 화자"))
            mask_names = gr.Checkbox(label=T("Mask names as <name>", "이름 가리기 (<name>으로)"),
                                     value=defaults.mask_names)
        pii_masked = gr.CheckboxGroup(
            label=T("Mask personal information (KakaoTalk and generic inputs)", "개인정보 가리기 (카카오톡·일반 형식)"),
            choices=[(T(*PII_LABELS[kind]), kind) for kind in PII_KINDS], value=list(PII_KINDS),
            info=T("each kind found becomes its placeholder (<phone>, <account>, …); uncheck a kind to keep it",
                   "찾은 개인정보는 종류별 표시(<phone>, <account>, …)로 바뀝니다. 남길 종류는 체크를 해제하세요"))
        with gr.Row():
            tokenizer = gr.Textbox(label=T("Tokenizer", "토크나이저"), value=defaults.tokenizer,
                                   info=T("demo, a local model folder, or a Hugging Face id",
                                          "demo, 로컬 모델 폴더, 또는 Hugging Face id"))
            max_length = gr.Number(label=T("Max length (tokens)", "최대 길이 (토큰)"), value=defaults.max_length,
                                   precision=0)
            overlap_turns = gr.Number(label=T("Window overlap (turns)", "윈도 겹침 (턴)"),
                                      value=defaults.overlap_turns, precision=0)
            gap_minutes = gr.Number(label=T("Kakao: new conversation after a silence of (minutes)",
                                            "카카오톡: 이만큼(분) 말이 없으면 새 대화"), value=defaults.gap_minutes)
            val_ratio = gr.Slider(label=T("Validation share", "검증 비율"), minimum=0.0, maximum=0.5, step=0.01,
                                  value=defaults.val_ratio)
            seed = gr.Number(label=T("Split seed", "분할 시드"), value=defaults.seed, precision=0)
    preview_button = gr.Button(T("Preview", "미리보기"), variant="primary")
    summary = gr.Markdown(T("Start here: the bundled AI Hub sample is chosen above (or upload your own chat files). "
                            "Press **Preview** to see the conversations exactly as the trainer will, then name and "
                            "save the dataset below. Every view of the preview appears here.",
                            "여기서 시작하세요: 위에 동봉된 AI Hub 샘플이 골라져 있습니다 (내 대화 파일을 올려도 됩니다). "
                            "**미리보기**를 누르면 학습에 들어갈 모습 그대로 대화를 보여 주고, 아래에서 이름을 붙여 "
                            "저장합니다. 미리보기 결과는 여기에 나타납니다."), elem_id="dataset-summary")
    # The preview's views appear with the first preview (the skipped lines only when there are some)
    with gr.Row():
        # Axis titles are set by each preview, in the page's language (the plot translates only its title).
        histogram = gr.BarPlot(x="tokens", y="examples", title=T("Tokens per example", "예시당 토큰 수"),
                               x_title="tokens (bin start)", y_title="examples", visible=False)
        files_table = gr.Dataframe(label=T("Files read", "읽은 파일"), headers=["source", "format"], interactive=False,
                                   visible=False)
    masked_view = gr.HighlightedText(label=T("Personal information found and masked (as it was; only shown here)",
                                             "찾아서 가린 개인정보 (원래 내용, 여기에만 표시)"),
                                     show_legend=True, combine_adjacent=False, visible=False)
    samples = gr.Code(label=T("Samples as the trainer sees them (special tokens shown)",
                              "학습 과정에 들어가는 그대로의 샘플 (특수 토큰 표시)"), language=None, lines=14,
                      visible=False)
    skipped_table = gr.Dataframe(label=T("Skipped (with reasons)", "건너뛴 항목 (이유 포함)"),
                                 headers=["source", "line", "reason"], interactive=False, visible=False)
    with gr.Row():
        dataset_name = gr.Textbox(label=T("Save as", "저장 이름"), placeholder="my-chats", elem_classes=["field-name"])
        save_button = gr.Button(T("Save dataset", "데이터셋 저장"))
    saved_message = gr.Markdown()
    saved_datasets = gr.Dropdown(label=T("Saved datasets", "저장된 데이터셋"), choices=workspace.dataset_names(),
                                 interactive=True, allow_custom_value=True)

    # The inputs come from the upload or the workspace path; every other field is PrepareConfig's own.
    form = Form(uploads=uploads, source_path=source_path, format=fmt, speakers=speakers, bot=bot,
                mask_names=mask_names, tokenizer=tokenizer, max_length=max_length, overlap_turns=overlap_turns,
                gap_minutes=gap_minutes, val_ratio=val_ratio, seed=seed,
                pii_masked=pii_masked)  # last: callers of the API by position keep their order

    @user_errors
    def on_preview(values):
        config = prepare_config(workspace, values)
        prepared, tokenizer_obj = _prepare(workspace, config)
        return _views(prepared, tokenizer_obj, workspace)

    @user_errors
    def on_save(name, values):
        config = prepare_config(workspace, values)
        prepared, _ = _prepare(workspace, config)
        out_dir = write(prepared, workspace.dataset_dir(check_name(name)), config, config.tokenizer)
        stats = prepared.stats
        train, val = stats["train_examples"], stats["val_examples"]
        message = say(f"Saved **{out_dir.name}**: {train} train / {val} validation examples in `{out_dir}`.",
                      f"**{out_dir.name}** 저장 완료: 학습 예시 {train}개 / 검증 예시 {val}개, 위치 `{out_dir}`.")
        return message, gr.update(choices=workspace.dataset_names(), value=out_dir.name)

    preview_button.click(form.handler(on_preview), inputs=form.inputs,
                         outputs=[summary, histogram, files_table, masked_view, samples, skipped_table],
                         api_name="preview").success(
        lambda skipped: (gr.update(visible=True), gr.update(visible=True),
                         gr.update(visible=has_rows(skipped))),
        inputs=[skipped_table], outputs=[files_table, samples, skipped_table], api_visibility="private")
    save_button.click(form.handler(on_save, leading=("name",)), inputs=[dataset_name, *form.inputs],
                      outputs=[saved_message, saved_datasets], api_name="save_dataset")
    return {"saved_datasets": saved_datasets}


def workspace_sources(workspace: Workspace) -> list[str]:
    """Sample and upload folders/files the user can pick, as paths relative to the workspace."""
    choices = []
    for folder in (workspace.root / "samples", workspace.uploads):
        if folder.is_dir():
            choices += [str(child.relative_to(workspace.root)) for child in sorted(folder.iterdir())
                        if not child.name.startswith(".")]
    return choices


def prepare_config(workspace: Workspace, values: dict) -> PrepareConfig:
    """The form's values as the config: the inputs are the uploaded files, else the workspace path."""
    uploads, source_path = values.pop("uploads", None), values.pop("source_path", None)
    masked = values.pop("pii_masked", None)  # the kinds checked; the config names those left as they are
    if masked is not None:
        values["keep"] = [kind for kind in PII_KINDS if kind not in masked]
    inputs = [str(path) for path in _store_uploads(workspace, uploads)] if uploads else []
    if not inputs and source_path:
        inputs = [str(workspace.inside(source_path))]
    if not inputs:
        raise UserError("Upload chat files or choose a path inside the workspace first.",
                        ko="먼저 대화 파일을 업로드하거나 작업 폴더 안의 경로를 고르세요.", field="source_path")
    return PrepareConfig.model_validate({**values, "inputs": inputs, "bot": (values.get("bot") or "").strip() or None,
                                         "tokenizer": (values.get("tokenizer") or "demo").strip()})


def _store_uploads(workspace: Workspace, uploads) -> list[Path]:
    """Copies uploaded files into workspace/uploads/<content hash>/, so they survive a reload and can
    be picked again; the same file uploaded twice is stored once."""
    stored = []
    for upload in uploads:
        path = Path(getattr(upload, "name", upload))
        target = workspace.uploads / _file_digest(path) / path.name
        if not target.exists():
            with atomic_path(target) as tmp:
                shutil.copyfile(path, tmp)
        stored.append(target)
    return stored


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def _prepare(workspace: Workspace, config: PrepareConfig) -> tuple[Prepared, object]:
    tokenizer = load_tokenizer(config.tokenizer, workspace)
    return prepare(config, tokenizer), tokenizer


def _views(prepared: Prepared, tokenizer, workspace: Workspace):
    stats = prepared.stats
    report = prepared.report
    summary = "\n".join([*_summary_lines(stats, report), *[f"- {localized(note)}" for note in report.notes[:20]]])
    shown = functools.partial(_relative_to, workspace.root)
    files = pd.DataFrame([{"source": shown(s), "format": f} for s, f in report.files_read.items()],
                         columns=["source", "format"])
    skipped = pd.DataFrame(
        [{"source": shown(s["source"]), "line": "", "reason": localized(s["reason"])} for s in report.skipped_files]
        + [{"source": shown(s["source"]), "line": str(s["line"]), "reason": localized(s["reason"])}
           for s in report.skipped_lines],
        columns=["source", "line", "reason"],
    )
    sample_text = "\n\n────────\n\n".join(visible_tokens(example["text"], tokenizer)
                                         for example in prepared.examples[:PREVIEW_EXAMPLES])
    return summary, token_histogram(stats["tokens_per_example"]), files, _masked_view(prepared), sample_text, skipped


def _masked_view(prepared: Prepared):
    """The first lines where preparation found personal information, as they were, each value
    highlighted with its kind: what the placeholders replaced (shown here, never written)."""
    lines = prepared.report.masked_lines[:MASKED_LINES_SHOWN]
    if not lines:
        return gr.update(value=None, visible=False)
    korean = lang() == "ko"
    segments = []
    for text, findings in lines:
        segments += [(piece, PII_LABELS[kind][korean] if kind else None)
                     for piece, kind in privacy.found_segments(text, findings)] + [("\n", None)]
    return gr.update(value=segments, visible=True)


def _summary_lines(stats: dict, report) -> list[str]:
    """The preview's summary in the page's language (the notes follow it)."""
    s, dropped, per_conversation = stats, report.dropped.items(), stats["speakers_per_conversation"].items()
    masked = [(kind, report.masked[kind]) for kind in PII_KINDS if report.masked[kind]]
    if lang() == "ko":
        return [
            (f"찾은 대화 {s['conversations_found']}개 중 **{s['conversations_kept']}**개 사용 "
             f"(파일 {s['files_read']}개 읽음, {s['files_skipped']}개 건너뜀) → "
             f"학습 예시 **{s['train_examples']}**개 / 검증 예시 **{s['val_examples']}**개, 턴 {s['turns']}개."),
            "- 대화당 화자 수: " + ", ".join(f"{n}명: {count}" for n, count in per_conversation),
            f"- {s['max_length']} 토큰 기준 윈도 분할: 대화 {s['conversations_windowed']}개 ({s['windowed_share']:.0%})",
            "- 제외된 대화: " + (", ".join(f"{localized(reason)} {count}개" for reason, count in dropped) or "없음"),
            "- 가린 개인정보: " + (", ".join(f"{PII_LABELS[kind][1]} {count}개" for kind, count in masked) or "없음"),
        ]
    return [
        (f"**{s['conversations_kept']}** conversations kept of {s['conversations_found']} found "
         f"in {s['files_read']} files ({s['files_skipped']} skipped) → "
         f"**{s['train_examples']}** train / **{s['val_examples']}** validation examples, {s['turns']} turns."),
        "- Speakers per conversation: " + ", ".join(f"{n} speakers: {count}" for n, count in per_conversation),
        (f"- Windowed at {s['max_length']} tokens: {s['conversations_windowed']} conversations "
         f"({s['windowed_share']:.0%})"),
        "- Dropped conversations: " + (", ".join(f"{count} {reason}" for reason, count in dropped) or "none"),
        "- Personal information masked: " + (", ".join(f"{count} {PII_LABELS[kind][0]}" for kind, count in masked)
                                              or "none"),
    ]


def _relative_to(root: Path, source: str) -> str:
    prefix = f"{root}/"
    return source[len(prefix):] if source.startswith(prefix) else source


def token_histogram(lengths: list[int], bins: int = HISTOGRAM_BINS):
    """A bar plot of tokens per example, binned by the plot itself (numeric x keeps bins in order)."""
    width = max(1, -(-max(lengths, default=1) // bins))
    frame = pd.DataFrame({"tokens": lengths, "examples": [1] * len(lengths)})
    return gr.BarPlot(value=frame, x_bin=width, y_aggregate="sum", x_title=say("tokens (bin start)", "토큰 (구간 시작)"),
                      y_title=say("examples", "예시 수"), visible=True)
