"""A new workspace, before anything is trained or exported: the Chat tab already offers the demo base
as GGUF, picked by default, built on first use, and it answers (issue 19)."""
from __future__ import annotations

from gradio_client import Client

from tests.app_server import running_demo_app

SETTINGS = [0.7, 0.9, 40, 1.1, 48, 3]  # temperature, top-p, top-k, repetition penalty, max new tokens, seed


def test_a_new_workspace_chats_with_the_demo_base_built_on_first_use(tmp_path, demo_model_dir):
    workspace_dir = tmp_path / "workspace"
    with running_demo_app(workspace_dir, demo_model_dir) as url:
        client = Client(url, verbose=False)
        single, pane_a, pane_b = client.predict(None, None, None, api_name="/chat_models")
        assert single["value"] == pane_a["value"] == pane_b["value"] == "base-gguf:demo"
        labels = [label for label, _ in single["choices"]]
        assert "base · demo · f16 GGUF (built on first use)" in labels
        assert not (workspace_dir / "models" / "demo-gguf" / "demo-f16.gguf").exists()
        history, stats, _ = client.predict("base-gguf:demo", "주말에 뭐해?", [], *SETTINGS, api_name="/chat")
        assert history[-1]["role"] == "assistant" and "tok/s" in stats
        assert (workspace_dir / "models" / "demo-gguf" / "demo-f16.gguf").is_file()
        single, _, _ = Client(url, verbose=False).predict(None, None, None, api_name="/chat_models")
        labels = [label for label, _ in single["choices"]]
        assert "base · demo · f16 GGUF" in labels and not any(label.startswith("models/demo-gguf") for label in labels)
