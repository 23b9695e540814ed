"""Export tab: pick a run and checkpoint, tick formats, and watch the export (merge, convert,
quantize, verify) run in its own process; then a table of the files with their verification."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import gradio as gr
import pandas as pd

from core import fileio
from core.errors import UserError
from core.workspace import Workspace
from inference import publish
from inference.export import QUANTS, step_name
from tuning.runs import RunDir, list_runs
from ui.common import user_errors
from ui.i18n import T, lang, say

ROOT = Path(__file__).resolve().parent.parent
FINAL = "final"
PROGRESS_LINE = re.compile(r"^\[\s*(\d+)%\] (.+)$")
TABLE_COLUMNS = ["file", "kind", "size (MiB)", "verified", "top-1 agreement", "max |Δ logit|", "greedy = merged"]


def create_export_tab(workspace: Workspace) -> dict:
    with gr.Row():
        run = gr.Dropdown(label=T("Run", "실행"), choices=exportable_runs(workspace), allow_custom_value=True)
        checkpoint = gr.Dropdown(label=T("Checkpoint", "체크포인트"), choices=[FINAL], value=FINAL, allow_custom_value=True)
    with gr.Row():
        quants = gr.CheckboxGroup(label=T("GGUF formats", "GGUF 형식"), choices=list(QUANTS),
                                  value=["f16", "q8_0", "q4_k_m"])
        lora = gr.Checkbox(label=T("Also the adapter alone as a GGUF LoRA (with the base as GGUF)",
                                   "어댑터만 따로 GGUF LoRA로도 내보내기 (베이스 모델도 GGUF로)"), value=True)
    export_button = gr.Button(T("Export", "내보내기"), variant="primary")
    status = gr.Markdown()
    table = gr.Dataframe(label=T("Files", "파일"), headers=TABLE_COLUMNS, interactive=False)
    downloads = gr.File(label=T("Download", "다운로드"), file_count="multiple", interactive=False)
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
        publish_button = gr.Button(T("Publish", "공유"))
        publish_message = gr.Markdown()

    def on_run(selected):
        names = [FINAL] + (RunDir(workspace.runs / selected).checkpoint_names() if selected else [])
        return gr.update(choices=names, value=FINAL)

    @user_errors
    def on_export(selected, chosen_checkpoint, chosen_quants, with_lora, progress=gr.Progress()):
        run_dir, out_dir = _paths(workspace, selected, chosen_checkpoint)
        if not chosen_quants:
            raise UserError("Tick at least one GGUF format.", ko="GGUF 형식을 하나 이상 선택하세요.")
        command = [sys.executable, "-m", "inference.export", str(run_dir), "--out", str(out_dir),
                   "--workspace", str(workspace.root), "--quant", *chosen_quants]
        if chosen_checkpoint and chosen_checkpoint != FINAL:
            command += ["--checkpoint", chosen_checkpoint]
        if not with_lora:
            command.append("--no-lora")
        # The export prints its progress steps and errors in the page's language.
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, "TUNER_LANG": lang()})
        output = []
        for line in process.stdout:
            output.append(line.rstrip())
            if match := PROGRESS_LINE.match(line.strip()):
                phase = match[2]
                progress(int(match[1]) / 100, desc=phase)
                yield (say(f"Exporting **{selected}** ({chosen_checkpoint}): {phase}…",
                           f"**{selected}** ({chosen_checkpoint}) 내보내는 중: {phase}…"), gr.update(), gr.update())
        if process.wait() not in (0, 3):
            errors = [line for line in output if line.startswith("error:")] or output[-5:]
            detail = " ".join(errors).removeprefix("error: ")
            raise UserError(f"The export failed: {detail}", ko=f"내보내기에 실패했습니다: {detail}")
        yield export_views(out_dir)

    @user_errors
    def on_publish(selected, chosen_checkpoint, gguf_name, repo, hub_token):
        _, export_dir = _paths(workspace, selected, chosen_checkpoint)
        name = f"{export_dir.name}-{Path(gguf_name or '').stem}"
        space_dir = publish.build_space(export_dir, gguf_name, workspace.root / "spaces" / name)
        if not (repo or "").strip():
            return say(f"Space folder ready: `{space_dir}` (start it with `python app.py` inside it).",
                       f"스페이스 폴더를 만들었습니다: `{space_dir}` (그 안에서 `python app.py`로 실행하세요).")
        url = publish.push_space(space_dir, repo.strip(), hub_token or None)
        return say(f"Published to [{url}]({url}) from `{space_dir}`.", f"[{url}]({url})에 공유했습니다 (폴더: `{space_dir}`).")

    run.change(on_run, inputs=[run], outputs=[checkpoint])
    publish_button.click(on_publish, inputs=[run, checkpoint, publish_file, space_repo, token],
                         outputs=[publish_message], api_name="publish")
    export_button.click(on_export, inputs=[run, checkpoint, quants, lora], outputs=[status, table, downloads],
                        api_name="export")
    return {"runs": run, "refresh": lambda: gr.update(choices=exportable_runs(workspace))}


def export_views(out_dir: Path):
    summary = fileio.read_json(out_dir / "export.json")
    if summary is None:
        return say("No export here yet.", "아직 내보낸 파일이 없습니다."), pd.DataFrame(columns=TABLE_COLUMNS), None
    rows = []
    for result in summary["files"]:
        check = result["verification"]
        rows.append([result["file"], result["kind"], round(result["size_bytes"] / 2**20, 1),
                     say("✅ passed", "✅ 통과") if check["passed"] else say("❌ failed", "❌ 실패"),
                     f"{check['top1_agreement']:.1%}", check["max_abs_diff_last"],
                     say("yes", "예") if check["greedy_match"] else say("no", "아니요")])
    verdict = (say("all files verified", "모든 파일 검증됨") if summary["verified"]
               else say("⚠️ some files FAILED verification", "⚠️ 일부 파일이 검증에 실패했습니다"))
    korean = lang() == "ko"
    timings = ", ".join(f"{step_name(k.removesuffix('_s'), korean)} {v:.0f} s" for k, v in summary["timings"].items())
    message = say(f"Exported to `{out_dir}`: {verdict} ({timings}).", f"`{out_dir}`에 내보냈습니다: {verdict} ({timings}).")
    files = [str(out_dir / r["file"]) for r in summary["files"]] + \
            [str(path) for path in sorted(out_dir.glob("*.Modelfile"))] + [str(out_dir / "export.json")]
    return message, pd.DataFrame(rows, columns=TABLE_COLUMNS), files


def exportable_runs(workspace: Workspace) -> list[str]:
    return [run.name for run in list_runs(workspace.runs)
            if (run.adapter / "adapter_config.json").is_file() or run.checkpoint_names()]


def _paths(workspace: Workspace, selected: str | None, chosen_checkpoint: str | None) -> tuple[Path, Path]:
    if not selected or selected not in exportable_runs(workspace):
        raise UserError("Choose a run that has finished or saved a checkpoint (train one in the Train tab).",
                        ko="완료되었거나 체크포인트를 저장한 실행을 선택하세요 (학습 탭에서 학습할 수 있습니다).")
    return workspace.runs / selected, workspace.exports / f"{selected}-{chosen_checkpoint or FINAL}"
