"""The Export tab driven through the running app: export a demo run, see every file verified."""
from __future__ import annotations

import pytest
from gradio_client import Client

from tests.app_server import running_app
from tests.conftest import seed_demo_model
from tests.test_training import run_training, train_command, write_config
from tuning.runs import RunDir


@pytest.fixture(scope="module")
def app(tmp_path_factory, workspace, demo_model_dir, sample_dataset):
    from core.workspace import Workspace

    workspace_dir = tmp_path_factory.mktemp("export-app") / "workspace"
    seed_demo_model(demo_model_dir, workspace_dir)
    app_workspace = Workspace.open(workspace_dir)
    run = RunDir(app_workspace.runs / "demo-run")
    result = run_training(train_command(app_workspace, sample_dataset, run.path, write_config(workspace_dir.parent),
                                        "--max-steps", "6"))
    assert result.returncode == 0, result.stderr[-2000:]
    with running_app(workspace_dir) as url:
        yield url, workspace_dir


def test_export_a_run_to_q4_k_m_and_see_it_verified(app):
    url, workspace_dir = app
    message, table, downloads = Client(url, verbose=False).predict("demo-run", "final", ["q4_k_m"], False,
                                                                   api_name="/export")
    assert "all files verified" in message
    assert [row[:2] for row in table["data"]] == [["model-q4_k_m.gguf", "q4_k_m"]]
    assert table["data"][0][3] == "✅ passed"
    assert any(str(item).endswith("model-q4_k_m.gguf") for item in map(str, downloads))
    out = workspace_dir / "exports" / "demo-run-final"
    assert (out / "model-q4_k_m.gguf").is_file() and (out / "model-q4_k_m.Modelfile").is_file()
    assert not (out / "model-f16.gguf").exists()  # not asked for: the intermediate is removed


def test_exporting_without_a_run_or_format_is_refused(app):
    url, _ = app
    with pytest.raises(Exception) as no_run:
        Client(url, verbose=False).predict("", "final", ["f16"], False, api_name="/export")
    assert "Choose a run" in str(no_run.value)
    with pytest.raises(Exception) as no_format:
        Client(url, verbose=False).predict("demo-run", "final", [], False, api_name="/export")
    assert "Tick at least one GGUF format" in str(no_format.value)


def test_publish_builds_a_space_folder_from_the_export(app):
    url, workspace_dir = app
    client = Client(url, verbose=False)
    client.predict("demo-run", "final", ["q4_k_m"], False, api_name="/export")
    message = client.predict("demo-run", "final", "model-q4_k_m.gguf", "", "", api_name="/publish")
    space_dir = workspace_dir / "spaces" / "demo-run-final-model-q4_k_m"
    assert "Space folder ready" in message and str(space_dir) in message
    assert (space_dir / "app.py").is_file() and (space_dir / "models" / "model-q4_k_m.gguf").is_file()
    with pytest.raises(Exception, match="token"):
        client.predict("demo-run", "final", "model-q4_k_m.gguf", "minji/chatbot", "", api_name="/publish")
