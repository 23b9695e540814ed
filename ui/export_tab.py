"""Export tab: pick a run and checkpoint, tick formats, and start the export (merge, convert, quantize,
verify) as a job in its own process; the tab follows it from the export folder's files, so a page
reload or an app restart re-attaches to it; then a table of the files with their verification."""
from __future__ import annotations

import shlex
from pathlib import Path

import gradio as gr
import pandas as pd

from core.artifacts import QUANTS, UnreadableFile
from core.errors import UserError
from core.exports import ExportDir
from core.runs import RunDir, list_runs
from core.workspace import FINAL, Workspace
from inference import export_jobs, publish
from inference.export import step_name
from ui.common import has_rows, html_escape, job_progress_html, user_errors
from ui.i18n import T, lang, localized, say

REFRESH_S = 2.0
TABLE_COLUMNS = ["file", "kind", "size (MiB)", "verified", "top-1 agreement", "max |Δ logit|", "greedy = merged"]
STATES_KO = {"running": "내보내는 중", "completed": "완료", "failed": "실패", "stopped": "중지됨"}


def create_export_tab(workspace: Workspace) -> dict:
    with gr.Row():
        run = gr.Dropdown(label=T("Run", "실행"), choices=exportable_runs(workspace), allow_custom_value=True,
                          info=_runs_info(workspace), elem_id="export-run", elem_classes=["field-run"])
        checkpoint = gr.Dropdown(label=T("Checkpoint", "체크포인트"), choices=[FINAL], value=FINAL,
                                 allow_custom_value=True)
    with gr.Row():
        quants = gr.CheckboxGroup(label=T("GGUF formats", "GGUF 형식"), choices=list(QUANTS),
                                  value=["f16", "q8_0", "q4_k_m"], elem_classes=["field-quants"])
        with gr.Column(min_width=280):  # wraps below the formats on a phone
            lora = gr.Checkbox(label=T("Also the adapter alone as a GGUF LoRA (with the base as GGUF)",
                                       "어댑터만 따로 GGUF LoRA로도 내보내기 (베이스 모델도 GGUF로)"), value=True)
            evaluate = gr.Checkbox(label=T("Then evaluate every file against the base (Evaluate tab)",
                                           "내보낸 뒤 모든 파일을 베이스 모델과 비교 평가 (평가 탭)"), value=False)
    with gr.Row():
        export_button = gr.Button(T("Export", "내보내기"), variant="primary")
        stop_button = gr.Button(T("Stop", "중지"), variant="stop")
    command = gr.Code(label=T("Command", "명령"), language="shell", lines=1, visible=False)
    status = gr.HTML(lambda: _first_line(workspace), elem_id="export-status")
    # The files and their downloads appear once an export has some
    table = gr.Dataframe(label=T("Files", "파일"), headers=TABLE_COLUMNS, interactive=False, visible=False)
    downloads = gr.File(label=T("Download", "다운로드"), file_count="multiple", interactive=False, visible=False)
    timer = gr.Timer(REFRESH_S)
    with gr.Accordion(T("Publish as a Hugging Face Space", "Hugging Face 스페이스로 공유"), open=False):
        gr.Markdown(T("Builds a chat-only Space (this app's Chat tab, the GGUF, its requirements and a model card) "
                      "in `workspace/spaces/`, and pushes it when you give a Space name and a write token. "
                      "The token is used for the upload only; it is never stored.",
                      "대화 전용 스페이스(이 앱의 대화 탭, GGUF, requirements, 모델 카드)를 `workspace/spaces/`에 "
                      "만들고, 스페이스 이름과 쓰기 토큰을 입력하면 업로드합니다. "
                      "토큰은 업로드에만 쓰이며 저장되지 않습니다."))
        with gr.Row():
            publish_file = gr.Dropdown(label="GGUF", choices=["model-q4_k_m.gguf"], value="model-q4_k_m.gguf",
                                       allow_custom_value=True)
            space_repo = gr.Textbox(label=T("Space (user/name), empty: build the folder only",
                                            "스페이스 (사용자/이름), 비우면 폴더만 만듭니다"), placeholder="minji/my-chatbot")
            token = gr.Textbox(label=T("Hugging Face token (or HF_TOKEN)", "Hugging Face 토큰 (또는 HF_TOKEN)"),
                               type="password")
        confirm_publish = gr.Checkbox(
            label=T("Publish even if the privacy check flags it (masking was off, or the model repeats training lines)",
                    "개인정보 확인에서 경고가 나와도 공유 (가리기 꺼짐, 또는 모델이 학습 문장을 그대로 반복)"), value=False)
        publish_button = gr.Button(T("Publish", "공유"))
        publish_message = gr.Markdown()

    def on_run(selected, current):
        names = (RunDir(workspace.runs / selected).adapters() if selected else []) or [FINAL]
        return gr.update(choices=names, value=current if current in names else names[0])

    @user_errors
    def on_export(selected, chosen_checkpoint, chosen_quants, with_lora, then_evaluate):
        if not chosen_quants:
            raise UserError("Tick at least one GGUF format.", ko="GGUF 형식을 하나 이상 선택하세요.", field="quants")
        target, launched = export_jobs.start(workspace, _run(workspace, selected), chosen_checkpoint, chosen_quants,
                                             bool(with_lora), lang(), evaluate=bool(then_evaluate))
        return *export_views(target), gr.update(value=shlex.join(launched), visible=True)

    @user_errors
    def on_stop(selected, chosen_checkpoint):
        target = _target(workspace, selected, chosen_checkpoint)
        export_jobs.stop(target)
        return _line(say(f"Stopping the export of {selected} at its next step.",
                         f"{selected} 내보내기를 다음 단계에서 중지합니다."))

    @user_errors
    def on_publish(selected, chosen_checkpoint, gguf_name, repo, hub_token, confirmed):
        export_dir = _target(workspace, selected, chosen_checkpoint).path
        name = f"{export_dir.name}-{Path(gguf_name or '').stem}"
        privacy = publish.checked_for_publishing(export_dir, gguf_name, workspace)
        checked = localized(publish.privacy_summary(privacy)) + "".join(
            f"\n- ⚠️ {localized(reason)}" for reason in privacy.reasons())
        space_dir = publish.build_space(export_dir, gguf_name, workspace.spaces / name, privacy=privacy)
        if not (repo or "").strip():
            return say(f"Space folder ready: `{space_dir}` (start it with `python app.py` inside it).",
                       f"스페이스 폴더를 만들었습니다: `{space_dir}` (그 안에서 `python app.py`로 실행하세요).") + "\n\n" + checked
        publish.require_confirmation(privacy, bool(confirmed))
        url = publish.push_space(space_dir, repo.strip(), hub_token or None)
        return say(f"Published to [{url}]({url}) from `{space_dir}`.",
                   f"[{url}]({url})에 공유했습니다 (폴더: `{space_dir}`).") + "\n\n" + checked

    def views_of(selected, chosen_checkpoint):
        if not selected:
            return _first_line(workspace), _empty_table(), None
        return export_views(ExportDir(workspace.exports / workspace.export_name(selected, chosen_checkpoint or FINAL)))

    # The API's views are plain values; the page's (the timer's, and after each of those) show the
    # table and the downloads only when they hold something
    show_files = dict(fn=lambda frame, files: (gr.update(visible=has_rows(frame)), gr.update(visible=bool(files))),
                      inputs=[table, downloads], outputs=[table, downloads], api_visibility="private")
    run.change(on_run, inputs=[run, checkpoint], outputs=[checkpoint])
    export_button.click(on_export, inputs=[run, checkpoint, quants, lora, evaluate], outputs=[status, table, downloads, command],
                        api_name="export").then(**show_files)
    stop_button.click(on_stop, inputs=[run, checkpoint], outputs=[status], api_name="stop_export")
    views = [status, table, downloads]
    checkpoint.change(views_of, inputs=[run, checkpoint], outputs=views, show_progress="hidden",
                      api_name="export_views").then(**show_files)
    timer.tick(lambda selected, chosen: _shown(views_of(selected, chosen)), inputs=[run, checkpoint], outputs=views,
               show_progress="hidden")
    publish_button.click(on_publish, inputs=[run, checkpoint, publish_file, space_repo, token, confirm_publish],
                         outputs=[publish_message], api_name="publish")

    def refreshed():
        return gr.update(choices=exportable_runs(workspace), info=_runs_info(workspace))

    def on_page_load():
        """A reload (or the first page after an app restart) shows an export under way, if one is."""
        running = export_jobs.attached(workspace)
        if running is None:
            return gr.update(choices=exportable_runs(workspace), info=_runs_info(workspace)), gr.update()
        run_name, checkpoint_name = running
        names = RunDir(workspace.runs / run_name).adapters() or [FINAL]
        return (gr.update(choices=exportable_runs(workspace), value=run_name),
                gr.update(choices=names, value=checkpoint_name))

    return {"runs": run, "refresh": refreshed, "on_load": (on_page_load, [], [run, checkpoint])}


def export_views(target: ExportDir):
    """The export's progress while it runs, then its files with their verification, from its folder."""
    try:
        status, manifest = target.status(), target.manifest()
    except UnreadableFile as err:
        return _line(localized(err), "#c00"), _empty_table(), None
    if status is not None and status.state != "completed":
        return _progress(target, status), _empty_table(), None
    if manifest is None:
        return say("Not exported yet.", "아직 내보내지 않았습니다."), _empty_table(), None
    rows = []
    for result in manifest.files:
        check = result.verification
        rows.append([result.file, result.kind, round(result.size_bytes / 2**20, 1),
                     say("✅ passed", "✅ 통과") if check.passed else say("❌ failed", "❌ 실패"),
                     f"{check.top1_agreement:.1%}", check.max_abs_diff_last,
                     say("yes", "예") if check.greedy_match else say("no", "아니요")])
    verdict = (say("all files verified", "모든 파일 검증됨") if manifest.verified
               else say("⚠️ some files FAILED verification", "⚠️ 일부 파일이 검증에 실패했습니다"))
    korean = lang() == "ko"
    timings = ", ".join(f"{step_name(k.removesuffix('_s'), korean)} {v:.0f} s" for k, v in manifest.timings.items())
    message = say(f"Exported to `{target.path}`: {verdict} ({timings}).",
                  f"`{target.path}`에 내보냈습니다: {verdict} ({timings}).")
    files = [str(target.path / r.file) for r in manifest.files] + \
            [str(path) for path in sorted(target.path.glob("*.Modelfile"))] + [str(target.files.manifest)]
    return _line(message), pd.DataFrame(rows, columns=TABLE_COLUMNS), files


def _shown(views):
    """export_views' (message, table, files), the table and the downloads shown only when they hold something."""
    message, table, files = views
    return message, gr.update(value=table, visible=has_rows(table)), gr.update(value=files, visible=bool(files))


def _runs_info(workspace: Workspace):
    if exportable_runs(workspace):
        return T("a run that finished or saved a checkpoint", "완료되었거나 체크포인트를 저장한 실행")
    return T("none yet: a run appears here once it finished or saved a checkpoint (Train tab)",
             "아직 없음: 학습 탭의 실행이 끝나거나 체크포인트를 저장하면 여기에 나타납니다")


def _first_line(workspace: Workspace) -> str:
    if exportable_runs(workspace):
        return _line(say("Choose a run to export.", "내보낼 실행을 고르세요."))
    return _line(say("Nothing to export yet: train a run in the Train tab first (or press ▶ Try it with the sample). "
                     "Its GGUF files, their verification and downloads appear here.",
                     "아직 내보낼 것이 없습니다: 먼저 학습 탭에서 학습하세요 (또는 ▶ 샘플로 해 보기). "
                     "GGUF 파일과 검증 결과, 다운로드가 여기에 나타납니다."))


def _progress(target: ExportDir, status) -> str:
    phase = step_name(status.phase, lang() == "ko") if status.phase else ""
    return job_progress_html("export-progress", status, [f"<b>{target.name}</b>", phase], STATES_KO)


def _line(text: str, color: str | None = None) -> str:
    style = f" style='color:{color}'" if color else ""
    return f"<div class='export-progress'{style}>{_markdown_code(html_escape(text))}</div>"


def _markdown_code(text: str) -> str:
    parts = text.split("`")
    return "".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts))


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame(columns=TABLE_COLUMNS)


def exportable_runs(workspace: Workspace) -> list[str]:
    return [entry.run.name for entry in list_runs(workspace.runs) if entry.problem is None and entry.run.adapters()]


def _run(workspace: Workspace, selected: str | None) -> RunDir:
    if not selected or selected not in exportable_runs(workspace):
        raise UserError("Choose a run that has finished or saved a checkpoint (train one in the Train tab).",
                        ko="완료되었거나 체크포인트를 저장한 실행을 선택하세요 (학습 탭에서 학습할 수 있습니다).",
                        field="run")
    return RunDir(workspace.runs / selected)


def _target(workspace: Workspace, selected: str | None, chosen_checkpoint: str | None) -> ExportDir:
    run = _run(workspace, selected)
    return ExportDir(workspace.exports / workspace.export_name(run.name, chosen_checkpoint or FINAL))

