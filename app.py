"""Korean chat tuner: prepare your chat logs, LoRA-fine-tune a Korean Llama-3 on them, export GGUF,
and chat with the result beside the base model.

    python app.py [--host H] [--port P] [--workspace DIR] [--share] [--auth USER:PASSWORD] [--lang ko|en]
"""
from __future__ import annotations

import argparse
import os

# Before gradio is imported: no usage analytics, no outbound calls at start-up.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from core.workspace import WORKSPACE_ENV, Workspace  # noqa: E402
from data.bundled import ensure_sample_dataset, install_sample  # noqa: E402
from models.demo import ensure_demo_gguf  # noqa: E402
from models.resolve import resolve_model_path  # noqa: E402
from tuning.config import Hardware  # noqa: E402
from ui.chat_tab import create_chat_tab  # noqa: E402
from ui.common import page_head  # noqa: E402
from ui.dataset_tab import create_dataset_tab  # noqa: E402
from ui.evaluate_tab import create_evaluate_tab  # noqa: E402
from ui.export_tab import create_export_tab  # noqa: E402
from ui.i18n import T, language_selector, set_default_lang, show_current_language, translations  # noqa: E402
from ui.start_panel import create_start_panel  # noqa: E402
from ui.start_panel import wire as wire_start_panel  # noqa: E402
from ui.train_tab import create_train_tab  # noqa: E402

# Chat exports are text: even years of KakaoTalk fit well under this. TUNER_MAX_UPLOAD (e.g. "2gb") overrides it.
MAX_UPLOAD = os.environ.get("TUNER_MAX_UPLOAD", "500mb")


def build_app(workspace: Workspace, hardware: Hardware) -> gr.Blocks:
    device = (f"GPU: {hardware.gpu_name} ({hardware.gpu_memory_gib:.0f} GiB)" if hardware.cuda
              else T("no GPU: CPU training of the demo model, and chat", "GPU 없음: 데모 모델 CPU 학습과 대화"))
    with gr.Blocks(title="Korean chat tuner · 한국어 대화 튜너") as app:
        with gr.Row(equal_height=True):
            with gr.Column(scale=5):
                gr.Markdown("# Korean chat tuner · 한국어 대화 튜너")
                gr.Markdown(T("Workspace", "작업 폴더") + f": `{workspace.root}`")
                gr.Markdown(device, elem_id="device")
            language = language_selector()
        show_current_language(app, language)
        start = create_start_panel(workspace, hardware)
        with gr.Tabs() as tabs:
            with gr.Tab("Dataset · 데이터셋", id="dataset", elem_id="tab-dataset"):
                create_dataset_tab(workspace)
            with gr.Tab("Train · 학습", id="train", elem_id="tab-train") as train_tab:
                train = create_train_tab(workspace, hardware)
            with gr.Tab("Export · 내보내기", id="export", elem_id="tab-export") as export_tab:
                export = create_export_tab(workspace)
            with gr.Tab("Chat · 대화", id="chat", elem_id="tab-chat") as chat_tab:
                chat = create_chat_tab(workspace, resolve_base=lambda base: resolve_model_path(base, workspace),
                                       make_demo_gguf=lambda: ensure_demo_gguf(workspace))
            with gr.Tab("Evaluate · 평가", id="evaluate", elem_id="tab-evaluate") as evaluate_tab:
                evaluation = create_evaluate_tab(workspace)
        wire_start_panel(start, workspace, tabs, chat)
        # The run "Try it" started is listed and followed in the Train tab at once.
        start["started"].success(train["newest_run_selected"], outputs=[train["runs"]], api_visibility="private")
        # Datasets saved in the Dataset tab appear in the Train tab's picker.
        train_tab.select(lambda: gr.update(choices=workspace.dataset_names()), outputs=[train["datasets"]])
        export_tab.select(export["refresh"], outputs=[export["runs"]])
        # New exports and checkpoints appear in the chat pickers; the vote tally is re-read.
        chat_tab.select(chat["refresh"], inputs=chat["models"], outputs=chat["models"])
        chat_tab.select(chat["tally_frame"], outputs=[chat["tally"]])
        # A reload shows what is under way now (the newest run, an export in progress), from the workspace's files.
        app.load(*train["on_load"])
        app.load(*export["on_load"], api_name="export_attach")
        # New datasets, models and evaluations appear in the Evaluate tab; a running evaluation is re-attached.
        evaluate_tab.select(evaluation["refresh"], outputs=evaluation["refresh_outputs"])
        app.load(*evaluation["on_load"], api_name="evaluation_attach")
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Hugging Face Spaces and Docker set GRADIO_SERVER_NAME/PORT; the app must listen where they say.
    parser.add_argument("--host", default=os.environ.get("TUNER_HOST") or os.environ.get("GRADIO_SERVER_NAME")
                        or "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("TUNER_PORT")
                                                        or os.environ.get("GRADIO_SERVER_PORT") or "7860"))
    parser.add_argument("--share", action="store_true", default=os.environ.get("TUNER_SHARE", "") in ("1", "true"),
                        help="also serve through a public *.gradio.live link (needs internet; or TUNER_SHARE=1)")
    parser.add_argument("--auth", default=os.environ.get("TUNER_AUTH"), metavar="USER:PASSWORD[,USER:PASSWORD]",
                        help="ask for a login (or TUNER_AUTH); strongly advised with --share or --host 0.0.0.0")
    parser.add_argument("--lang", choices=["auto", "ko", "en"], default=os.environ.get("TUNER_LANG", "auto"),
                        help="the page's language until a user picks one in the page (default auto: the browser's; "
                             "or TUNER_LANG, which also sets the language of the command lines)")
    parser.add_argument("--workspace", default=None,
                        help=f"folder for all state (default: ${WORKSPACE_ENV} or ./workspace)")
    return parser.parse_args(argv)


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    if not value:
        return None
    pairs = [item.split(":", 1) for item in value.split(",") if item.strip()]
    if not pairs or any(len(pair) != 2 or not pair[0] or not pair[1] for pair in pairs):
        raise SystemExit("--auth / TUNER_AUTH must look like user:password (several separated by commas).")
    return [(user.strip(), password) for user, password in pairs]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    auth = parse_auth(args.auth)
    set_default_lang(args.lang)
    workspace = Workspace.open(args.workspace)
    install_sample(workspace)
    ensure_sample_dataset(workspace)
    app = build_app(workspace, Hardware.detect())
    app.queue(default_concurrency_limit=4).launch(
        server_name=args.host, server_port=args.port, share=args.share, auth=auth,
        auth_message="Korean chat tuner · 한국어 대화 튜너" if auth else None, allowed_paths=[str(workspace.root)],
        max_file_size=MAX_UPLOAD, show_error=True, head=page_head(), i18n=translations(),
    )


if __name__ == "__main__":
    main()
