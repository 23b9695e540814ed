"""Export tab: pick a run and checkpoint, tick formats, and watch the export (merge, convert,
quantize, verify) run in its own process; then a table of the files with their verification."""
from __future__ import annotations

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
from inference.export import QUANTS
from tuning.runs import RunDir, list_runs
from ui.common import user_errors

ROOT = Path(__file__).resolve().parent.parent
FINAL = "final"
PROGRESS_LINE = re.compile(r"^\[\s*(\d+)%\] (.+)$")
TABLE_COLUMNS = ["file", "kind", "size (MiB)", "verified", "top-1 agreement", "max |Δ logit|", "greedy = merged"]


def create_export_tab(workspace: Workspace) -> dict:
    with gr.Row():
        run = gr.Dropdown(label="Run", choices=exportable_runs(workspace), allow_custom_value=True)
        checkpoint = gr.Dropdown(label="Checkpoint", choices=[FINAL], value=FINAL, allow_custom_value=True)
    with gr.Row():
        quants = gr.CheckboxGroup(label="GGUF formats", choices=list(QUANTS), value=["f16", "q8_0", "q4_k_m"])
        lora = gr.Checkbox(label="Also the adapter alone as a GGUF LoRA (with the base as GGUF)", value=True)
    export_button = gr.Button("Export", variant="primary")
    status = gr.Markdown()
    table = gr.Dataframe(label="Files", headers=TABLE_COLUMNS, interactive=False)
    downloads = gr.File(label="Download", file_count="multiple", interactive=False)
    with gr.Accordion("Publish as a Hugging Face Space · 스페이스로 공유", open=False):
        gr.Markdown("Builds a chat-only Space (this app's Chat tab, the GGUF, its requirements and a model card) "
                    "in `workspace/spaces/`, and pushes it when you give a Space name and a write token. "
                    "The token is used for the upload only; it is never stored.")
        with gr.Row():
            publish_file = gr.Dropdown(label="GGUF", choices=["model-q4_k_m.gguf"], value="model-q4_k_m.gguf",
                                       allow_custom_value=True)
            space_repo = gr.Textbox(label="Space (user/name), empty: build the folder only", placeholder="minji/my-chatbot")
            token = gr.Textbox(label="Hugging Face token (or HF_TOKEN)", type="password")
        publish_button = gr.Button("Publish · 공유")
        publish_message = gr.Markdown()

    def on_run(selected):
        names = [FINAL] + (RunDir(workspace.runs / selected).checkpoint_names() if selected else [])
        return gr.update(choices=names, value=FINAL)

    @user_errors
    def on_export(selected, chosen_checkpoint, chosen_quants, with_lora, progress=gr.Progress()):
        run_dir, out_dir = _paths(workspace, selected, chosen_checkpoint)
        if not chosen_quants:
            raise UserError("Tick at least one GGUF format.")
        command = [sys.executable, "-m", "inference.export", str(run_dir), "--out", str(out_dir),
                   "--workspace", str(workspace.root), "--quant", *chosen_quants]
        if chosen_checkpoint and chosen_checkpoint != FINAL:
            command += ["--checkpoint", chosen_checkpoint]
        if not with_lora:
            command.append("--no-lora")
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output = []
        for line in process.stdout:
            output.append(line.rstrip())
            if match := PROGRESS_LINE.match(line.strip()):
                progress(int(match[1]) / 100, desc=match[2])
                yield f"Exporting **{selected}** ({chosen_checkpoint}): {match[2]}…", gr.update(), gr.update()
        if process.wait() not in (0, 3):
            errors = [line for line in output if line.startswith("error:")] or output[-5:]
            raise UserError("The export failed: " + " ".join(errors).removeprefix("error: "))
        yield export_views(out_dir)

    @user_errors
    def on_publish(selected, chosen_checkpoint, gguf_name, repo, hub_token):
        _, export_dir = _paths(workspace, selected, chosen_checkpoint)
        name = f"{export_dir.name}-{Path(gguf_name or '').stem}"
        space_dir = publish.build_space(export_dir, gguf_name, workspace.root / "spaces" / name)
        if not (repo or "").strip():
            return f"Space folder ready: `{space_dir}` (start it with `python app.py` inside it)."
        url = publish.push_space(space_dir, repo.strip(), hub_token or None)
        return f"Published to [{url}]({url}) from `{space_dir}`."

    run.change(on_run, inputs=[run], outputs=[checkpoint])
    publish_button.click(on_publish, inputs=[run, checkpoint, publish_file, space_repo, token],
                         outputs=[publish_message], api_name="publish")
    export_button.click(on_export, inputs=[run, checkpoint, quants, lora], outputs=[status, table, downloads],
                        api_name="export")
    return {"runs": run, "refresh": lambda: gr.update(choices=exportable_runs(workspace))}


def export_views(out_dir: Path):
    summary = fileio.read_json(out_dir / "export.json")
    if summary is None:
        return "No export here yet.", pd.DataFrame(columns=TABLE_COLUMNS), None
    rows = []
    for result in summary["files"]:
        check = result["verification"]
        rows.append([result["file"], result["kind"], round(result["size_bytes"] / 2**20, 1),
                     "✅ passed" if check["passed"] else "❌ failed", f"{check['top1_agreement']:.1%}",
                     check["max_abs_diff_last"], "yes" if check["greedy_match"] else "no"])
    verdict = "all files verified" if summary["verified"] else "⚠️ some files FAILED verification"
    timings = ", ".join(f"{k.removesuffix('_s')} {v:.0f} s" for k, v in summary["timings"].items())
    message = f"Exported to `{out_dir}`: {verdict} ({timings})."
    files = [str(out_dir / r["file"]) for r in summary["files"]] + \
            [str(path) for path in sorted(out_dir.glob("*.Modelfile"))] + [str(out_dir / "export.json")]
    return message, pd.DataFrame(rows, columns=TABLE_COLUMNS), files


def exportable_runs(workspace: Workspace) -> list[str]:
    return [run.name for run in list_runs(workspace.runs)
            if (run.adapter / "adapter_config.json").is_file() or run.checkpoint_names()]


def _paths(workspace: Workspace, selected: str | None, chosen_checkpoint: str | None) -> tuple[Path, Path]:
    if not selected or selected not in exportable_runs(workspace):
        raise UserError("Choose a run that has finished or saved a checkpoint (train one in the Train tab).")
    return workspace.runs / selected, workspace.exports / f"{selected}-{chosen_checkpoint or FINAL}"
