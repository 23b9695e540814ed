"""The Export tab driven through the running app: export a demo run as a job, follow it, see every
file verified; re-attach after a reload and an app restart; stop it."""
from __future__ import annotations

import time

import pytest
from gradio_client import Client

from core.exports import ExportDir
from core.runs import RunDir
from tests.app_server import running_app
from tests.conftest import seed_demo_model
from tests.test_training import run_training, train_command, write_config


def wait_for_export(client, run_name, checkpoint="final", state="completed", timeout=600):
    """The tab's views of that export, re-read as its timer does, until the export reaches `state`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        views = client.predict(run_name, checkpoint, api_name="/export_views")
        if f"data-state='{state}'" in views[0] or (state == "completed" and "Exported to" in views[0]):
            return views
        time.sleep(1)
    raise AssertionError(f"the export did not reach {state}; last view: {views[0]}")


def wait_for_evaluation(folder, timeout=600):
    from core.evaluations import EvaluationDir

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = EvaluationDir(folder).status()
        if status is not None and status.state != "running":
            assert status.state == "completed", status
            return EvaluationDir(folder).results()
        time.sleep(1)
    raise AssertionError(f"the evaluation in {folder} did not end")


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
    client = Client(url, verbose=False)
    started, _, _, command = client.predict("demo-run", "final", ["q4_k_m"], False, True, api_name="/export")
    assert "data-state='running'" in started and "-m inference.export" in command["value"]
    assert "--evaluate" in command["value"]
    reloaded = Client(url, verbose=False)  # a page reload: the export is followed from its folder's files
    message, table, downloads = wait_for_export(reloaded, "demo-run")
    assert "all files verified" in message
    assert [row[:2] for row in table["data"]] == [["model-q4_k_m.gguf", "q4_k_m"]]
    assert table["data"][0][3] == "✅ passed"
    assert any(str(item).endswith("model-q4_k_m.gguf") for item in map(str, downloads))
    out = workspace_dir / "exports" / "demo-run-final"
    assert (out / "model-q4_k_m.gguf").is_file() and (out / "model-q4_k_m.Modelfile").is_file()
    assert not (out / "model-f16.gguf").exists()  # not asked for: the intermediate is removed
    assert (out / "export.log").read_text(encoding="utf-8").count("[100%] done") == 1  # the job's own log, once
    # Evaluated right after, as asked: the base, the merged model and the file, on the run's held-out data
    evaluation = wait_for_evaluation(ExportDir(out).files.evaluation)
    assert [model.label for model in evaluation.models] == ["base · demo", "demo-run-final · merged (transformers)",
                                                            "demo-run-final · q4_k_m"]


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
    if not (workspace_dir / "exports" / "demo-run-final" / "export.json").is_file():
        client.predict("demo-run", "final", ["q4_k_m"], False, api_name="/export")
        wait_for_export(client, "demo-run")
    message = client.predict("demo-run", "final", "model-q4_k_m.gguf", "", "", False, api_name="/publish")
    space_dir = workspace_dir / "spaces" / "demo-run-final-model-q4_k_m"
    assert "Space folder ready" in message and str(space_dir) in message
    assert "Privacy check: masking on" in message and "probed training lines repeated" in message
    assert (space_dir / "app.py").is_file() and (space_dir / "models" / "model-q4_k_m.gguf").is_file()
    assert "## Privacy" in (space_dir / "README.md").read_text(encoding="utf-8")
    assert not list(space_dir.rglob("*.privacy.json"))  # the check quotes training data: it stays home
    with pytest.raises(Exception, match="token"):  # confirmed, in case the demo repeats a training line
        client.predict("demo-run", "final", "model-q4_k_m.gguf", "minji/chatbot", "", True, api_name="/publish")


def test_an_export_is_found_again_by_another_app_process_and_stopped_there(app):
    """The export runs in its own process and reports through its folder: a second app on the same workspace
    (as after an app restart, or a reload) finds it under way and stops it."""
    url, workspace_dir = app
    checkpoint = RunDir(workspace_dir / "runs" / "demo-run").checkpoint_names()[-1]
    target = ExportDir(workspace_dir / "exports" / f"demo-run-{checkpoint}")
    with running_app(workspace_dir) as restarted:
        Client(url, verbose=False).predict("demo-run", checkpoint, ["f16", "q8_0", "q6_k"], True, api_name="/export")
        again = Client(restarted, verbose=False)
        assert [choice_value(update) for update in again.predict(api_name="/export_attach")] == ["demo-run", checkpoint]
        assert "data-state='running'" in again.predict("demo-run", checkpoint, api_name="/export_views")[0]
        with pytest.raises(Exception, match="already running|being exported already"):
            again.predict("demo-run", checkpoint, ["q8_0"], False, api_name="/export")
        again.predict("demo-run", checkpoint, api_name="/stop_export")
        wait_for_export(again, "demo-run", checkpoint, state="stopped")
    assert target.status().state == "stopped" and target.manifest() is None


def choice_value(update) -> str:
    return update["value"] if isinstance(update, dict) else update
