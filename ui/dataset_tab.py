"""Dataset tab: read chat logs (uploaded or in the workspace), see them exactly as the trainer
will, and save the prepared dataset in the workspace by name."""
from __future__ import annotations

import functools
import hashlib
import shutil
from pathlib import Path

import gradio as gr
import pandas as pd

from core.errors import UserError
from core.fileio import atomic_path
from core.workspace import Workspace, check_name
from data import bundled
from data.prepare import PrepareConfig, Prepared, prepare, write
from data.readers import FORMATS
from data.render import SPEAKER_STYLES
from data.tokens import visible_tokens
from tuning.models import load_tokenizer
from ui.common import user_errors

PREVIEW_EXAMPLES = 3
HISTOGRAM_BINS = 12


def create_dataset_tab(workspace: Workspace) -> dict:
    defaults = PrepareConfig(inputs=["-"])
    with gr.Row():
        uploads = gr.File(label="Upload chat files or zips (.json, .jsonl, .txt, .csv, .zip)",
                          file_count="multiple", file_types=[".json", ".jsonl", ".txt", ".csv", ".zip"])
        with gr.Column():
            source_path = gr.Dropdown(label="…or a file or folder inside the workspace",
                                      choices=workspace_sources(workspace), value=bundled.AIHUB_SAMPLE,
                                      allow_custom_value=True)
            fmt = gr.Dropdown(label="Format", choices=list(FORMATS), value=defaults.format)
    with gr.Accordion("Options", open=True):
        with gr.Row():
            speakers = gr.Radio(label="Speaker labels", choices=list(SPEAKER_STYLES), value=defaults.speakers,
                                info="blog: user/bot as in the blog post; numbered: user1, user2, … for group chats")
            bot = gr.Textbox(label="Bot speaker", placeholder="default: AI Hub speaker 2 / most active Kakao name",
                             info="the speaker whose replies the model learns")
            mask_names = gr.Checkbox(label="Mask names as <name>", value=defaults.mask_names)
        with gr.Row():
            tokenizer = gr.Textbox(label="Tokenizer", value=defaults.tokenizer,
                                   info="demo, a local model folder, or a Hugging Face id")
            max_length = gr.Number(label="Max length (tokens)", value=defaults.max_length, precision=0)
            overlap_turns = gr.Number(label="Window overlap (turns)", value=defaults.overlap_turns, precision=0)
            gap_minutes = gr.Number(label="Kakao: new conversation after a silence of (minutes)",
                                    value=defaults.gap_minutes)
            val_ratio = gr.Slider(label="Validation share", minimum=0.0, maximum=0.5, step=0.01,
                                  value=defaults.val_ratio)
            seed = gr.Number(label="Split seed", value=defaults.seed, precision=0)
    preview_button = gr.Button("Preview", variant="primary")
    summary = gr.Markdown()
    with gr.Row():
        histogram = gr.BarPlot(x="tokens", y="examples", title="Tokens per example", x_title="tokens (bin start)",
                               y_title="examples")
        files_table = gr.Dataframe(label="Files read", headers=["source", "format"], interactive=False)
    samples = gr.Code(label="Samples as the trainer sees them (special tokens shown)", language=None, lines=14)
    skipped_table = gr.Dataframe(label="Skipped (with reasons)", headers=["source", "line", "reason"], interactive=False)
    with gr.Row():
        dataset_name = gr.Textbox(label="Save as", placeholder="my-chats")
        save_button = gr.Button("Save dataset")
    saved_message = gr.Markdown()
    saved_datasets = gr.Dropdown(label="Saved datasets", choices=workspace.dataset_names(), interactive=True,
                                 allow_custom_value=True)

    options = [uploads, source_path, fmt, speakers, bot, mask_names, tokenizer, max_length, overlap_turns,
               gap_minutes, val_ratio, seed]

    @user_errors
    def on_preview(*values):
        config = _config(workspace, *values)
        prepared, tokenizer_obj = _prepare(workspace, config)
        return _views(prepared, tokenizer_obj, workspace)

    @user_errors
    def on_save(name, *values):
        config = _config(workspace, *values)
        prepared, _ = _prepare(workspace, config)
        out_dir = write(prepared, workspace.dataset_dir(check_name(name)), config, config.tokenizer)
        stats = prepared.stats
        message = (f"Saved **{out_dir.name}**: {stats['train_examples']} train / {stats['val_examples']} "
                   f"validation examples in `{out_dir}`.")
        return message, gr.update(choices=workspace.dataset_names(), value=out_dir.name)

    preview_button.click(on_preview, inputs=options,
                         outputs=[summary, histogram, files_table, samples, skipped_table], api_name="preview")
    save_button.click(on_save, inputs=[dataset_name, *options], outputs=[saved_message, saved_datasets],
                      api_name="save_dataset")
    return {"saved_datasets": saved_datasets}


def workspace_sources(workspace: Workspace) -> list[str]:
    """Sample and upload folders/files the user can pick, as paths relative to the workspace."""
    choices = []
    for folder in (workspace.root / "samples", workspace.uploads):
        if folder.is_dir():
            choices += [str(child.relative_to(workspace.root)) for child in sorted(folder.iterdir())
                        if not child.name.startswith(".")]
    return choices


def _config(workspace, uploads, source_path, fmt, speakers, bot, mask_names, tokenizer, max_length,
            overlap_turns, gap_minutes, val_ratio, seed) -> PrepareConfig:
    inputs = [str(path) for path in _store_uploads(workspace, uploads)] if uploads else []
    if not inputs and source_path:
        inputs = [str(workspace.inside(source_path))]
    if not inputs:
        raise UserError("Upload chat files or choose a path inside the workspace first.")
    return PrepareConfig(
        inputs=inputs, format=fmt, speakers=speakers, bot=(bot or "").strip() or None, mask_names=mask_names,
        tokenizer=(tokenizer or "demo").strip(), max_length=int(max_length), overlap_turns=int(overlap_turns),
        gap_minutes=float(gap_minutes), val_ratio=float(val_ratio), seed=int(seed),
    )


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
    dropped = ", ".join(f"{count} {reason}" for reason, count in report.dropped.items()) or "none"
    speakers = ", ".join(f"{n} speakers: {count}" for n, count in stats["speakers_per_conversation"].items())
    summary = "\n".join([
        f"**{stats['conversations_kept']}** conversations kept of {stats['conversations_found']} found "
        f"in {stats['files_read']} files ({stats['files_skipped']} skipped) → "
        f"**{stats['train_examples']}** train / **{stats['val_examples']}** validation examples, "
        f"{stats['turns']} turns.",
        f"- Speakers per conversation: {speakers}",
        f"- Windowed at {stats['max_length']} tokens: {stats['conversations_windowed']} conversations "
        f"({stats['windowed_share']:.0%})",
        f"- Dropped conversations: {dropped}",
        *[f"- {note}" for note in report.notes[:20]],
    ])
    shown = functools.partial(_relative_to, workspace.root)
    files = pd.DataFrame([{"source": shown(s), "format": f} for s, f in report.files_read.items()],
                         columns=["source", "format"])
    skipped = pd.DataFrame(
        [{"source": shown(s["source"]), "line": "", "reason": s["reason"]} for s in report.skipped_files]
        + [{"source": shown(s["source"]), "line": str(s["line"]), "reason": s["reason"]} for s in report.skipped_lines],
        columns=["source", "line", "reason"],
    )
    sample_text = "\n\n────────\n\n".join(visible_tokens(example["text"], tokenizer)
                                         for example in prepared.examples[:PREVIEW_EXAMPLES])
    return summary, token_histogram(stats["tokens_per_example"]), files, sample_text, skipped


def _relative_to(root: Path, source: str) -> str:
    prefix = f"{root}/"
    return source[len(prefix):] if source.startswith(prefix) else source


def token_histogram(lengths: list[int], bins: int = HISTOGRAM_BINS):
    """A bar plot of tokens per example, binned by the plot itself (numeric x keeps bins in order)."""
    width = max(1, -(-max(lengths, default=1) // bins))
    frame = pd.DataFrame({"tokens": lengths, "examples": [1] * len(lengths)})
    return gr.BarPlot(value=frame, x_bin=width, y_aggregate="sum")
