"""A workspace written by an older version of the app (tests/fixtures/workspace-ac3c2dc, before files had
schema versions, in a folder that has since moved) still loads: its runs, exports, datasets, votes and
saved chats are read through today's typed files, migrated on read; its exports chat, its run exports
again. A file that cannot be read is listed with its reason, never dropped."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from core import artifacts
from core.artifacts import DatasetReport, SavedConversation
from core.errors import UserError
from core.exports import ExportDir, list_exports
from core.runs import DIED, RunDir, list_runs
from core.workspace import Workspace
from inference import arena, llama
from inference.catalog import chat_models
from inference.chat import GenerationSettings, ModelCache, chat_stream
from tests.conftest import ROOT, seed_demo_model
from tuning.dataset import load_split

FIXTURE = ROOT / "tests" / "fixtures" / "workspace-ac3c2dc"
WRITTEN_IN = Path("/tmp/oldws/workspace")  # where the old version wrote it: paths in its files name this


@pytest.fixture(scope="module")
def old(tmp_path_factory, demo_model_dir, chat_export) -> Workspace:
    """The old workspace, moved to a new folder, with the GGUF files its exports list (left out of the
    repository for their size) made again by today's code from the session's demo export."""
    root = tmp_path_factory.mktemp("moved") / "workspace"
    shutil.copytree(FIXTURE, root)
    seed_demo_model(demo_model_dir, root)
    lines_export = root / "exports" / "old-lines-final"
    for name in ("model-f16.gguf", "model-q4_k_m.gguf", "lora-f16.gguf", "base-f16.gguf"):
        shutil.copy2(chat_export / name, lines_export / name)
    llama.quantize(chat_export / "model-f16.gguf", root / "exports" / "old-template-checkpoint-3" / "model-q8_0.gguf",
                   "q8_0")
    return Workspace.open(root)


def test_the_fixture_was_written_before_schema_versions_in_a_folder_that_no_longer_holds_it():
    assert "schema_version" not in json.loads((FIXTURE / "runs" / "old-lines" / "status.json").read_text())
    assert json.loads((FIXTURE / "exports" / "old-lines-final" / "export.json").read_text())["run"].startswith(
        str(WRITTEN_IN))


def test_old_runs_read_with_their_state_metrics_and_config(old):
    runs = {entry.run.name: entry for entry in list_runs(old.runs)}
    assert set(runs) == {"old-lines", "old-template", "old-killed"} and not any(e.problem for e in runs.values())
    lines = runs["old-lines"].run
    status = lines.status()
    assert (status.state, status.step, status.max_steps, status.schema_version) == ("completed", 6, 6, 1)
    assert [row.step for row in lines.metrics() if row.loss is not None] == [2, 4, 6]
    assert lines.config().lora_r == 16 and old.relocate(lines.config().dataset) == old.datasets / "sample"
    killed = runs["old-killed"].run  # its status still said running, for a process long gone
    assert killed.status().state == "failed" and killed.status().error == str(DIED)
    assert killed.last_checkpoint().name == "checkpoint-100"


def test_old_prompt_formats_migrate_to_contracts_with_their_end_tokens(old):
    lines = ExportDir(old.exports / "old-lines-final").manifest().prompt
    assert (lines.prompt_format, lines.stop) == ("lines", ["\nuser", "<|end_of_text|>"])
    template = RunDir(old.runs / "old-template").prompt_contract()
    assert (template.prompt_format, template.speakers) == ("chat_template", "numbered")
    assert template.stop == ["<|eot_id|>", "<|end_of_text|>"] and template.user_label == "user1"


def test_the_train_and_export_tabs_show_old_runs_and_exports(old):
    from ui.export_tab import export_views
    from ui.train_tab import _run_choices, run_views

    assert {name for _, name in _run_choices(old)} == {"old-lines", "old-template", "old-killed"}
    progress, plot, log = run_views(old, "old-lines")
    assert "data-state='completed'" in progress and "step 6/6" in progress and "completed at step 6" in log
    assert sorted(row[0] for row in plot.itertuples(index=False) if row[1] == row[1]) == [2, 2, 4, 4, 6, 6]
    message, table, downloads = export_views(ExportDir(old.exports / "old-lines-final"))
    assert "all files verified" in message and list(table["file"]) == ["model-f16.gguf", "model-q4_k_m.gguf",
                                                                      "lora-f16.gguf"]
    assert any(path.endswith("model-q4_k_m.Modelfile") for path in downloads)


def test_old_datasets_read_typed(old):
    report = artifacts.read(old.datasets / "sample-numbered" / "report.json", DatasetReport)
    assert report.speakers == "numbered" and report.counts.conversations_kept == 180
    rows = load_split(old.datasets / "sample", "train")
    assert len(rows) == 12 and rows[0].messages[0].role == "user"


def test_everything_old_can_be_chatted_with_by_a_stable_id(old):
    models = chat_models(old)
    assert {"export:old-lines-final/model-q4_k_m.gguf", "export:old-lines-final/model-f16.gguf",
            "export:old-lines-final/lora-f16.gguf", "export:old-template-checkpoint-3/model-q8_0.gguf",
            "base-gguf:demo", "base-hf:demo", "run:old-lines/checkpoint-6", "run:old-template/final",
            "run:old-template/checkpoint-4"} <= set(models)
    assert "run:old-lines/final" not in models  # exported already: chat with its GGUF
    assert models["export:old-template-checkpoint-3/model-q8_0.gguf"].prompt.prompt_format == "chat_template"
    cache = ModelCache()
    for model_id in ("export:old-lines-final/model-q4_k_m.gguf", "export:old-template-checkpoint-3/model-q8_0.gguf"):
        reply = list(chat_stream(cache.get(models[model_id]), [{"role": "user", "content": "주말에 뭐해?"}],
                                 GenerationSettings(seed=1, max_new_tokens=16)))[-1]
        assert reply.done and reply.tokens > 0 and not reply.error, model_id
    cache.close()


def test_old_votes_count_with_new_ones_by_model_id(old):
    before = {(row[0], row[1]): row for row in arena.tally(old)}
    pair = ("base · demo · f16 GGUF", "old-lines-final · q4_k_m")
    assert before[pair][2:5] == [3, 0, 2]  # 3 votes: 2 for the fine-tune, 1 tie
    models = chat_models(old)
    tuned, base = models["export:old-lines-final/model-q4_k_m.gguf"], models["base-gguf:demo"]
    arena.record_vote(old, tuned.id, base.id, "left", left_label=tuned.label, right_label=base.label)
    after = {(row[0], row[1]): row for row in arena.tally(old, labels={m: s.label for m, s in models.items()})}
    assert after[pair][2:5] == [4, 0, 3]
    [saved] = list(old.chats.glob("*.json"))
    panes = artifacts.read(saved, SavedConversation).panes
    assert panes[0].hidden and panes[0].model is None and panes[1].model == "base-gguf:demo"


def test_an_old_run_exports_with_todays_code(old):
    from core.artifacts import ExportRequest
    from inference.export import export

    out = old.exports / "old-lines-again"
    manifest = export(ExportRequest(run_dir=str(old.runs / "old-lines"), quants=["q4_k_m"], out_dir=str(out),
                                    lora=False), old)
    assert manifest.verified and manifest.prompt.stop == ["\nuser", "<|end_of_text|>"]


def test_a_run_or_export_that_cannot_be_read_is_listed_with_its_reason(old, tmp_path):
    broken = Workspace.open(tmp_path / "workspace")
    shutil.copytree(old.runs / "old-lines", broken.runs / "bad-config")
    config = json.loads((broken.runs / "bad-config" / "config.json").read_text())
    (broken.runs / "bad-config" / "config.json").write_text(json.dumps({**config, "lora_r": 0}))
    shutil.copytree(old.runs / "old-lines", broken.runs / "newer-contract")
    (broken.runs / "newer-contract" / "prompt.json").write_text('{"schema_version": 2, "prompt_format": "lines"}')
    shutil.copytree(old.exports / "old-lines-final", broken.exports / "cut-export")
    (broken.exports / "cut-export" / "export.json").write_text('{"run": "x", "files": [')
    problems = {entry.run.name: entry.problem.reason for entry in list_runs(broken.runs)}
    assert "lora_r" in problems["bad-config"] and "written by a newer version of the app" in problems["newer-contract"]
    [export_entry] = list_exports(broken.exports)
    assert "not valid JSON" in export_entry.problem.reason
    models = chat_models(broken)
    listed = {model_id: spec for model_id, spec in models.items() if model_id.startswith("unreadable:")}
    assert set(listed) == {"unreadable:runs/bad-config", "unreadable:runs/newer-contract",
                           "unreadable:exports/cut-export"}
    assert "lora_r" in listed["unreadable:runs/bad-config"].label
    with pytest.raises(UserError, match="not valid JSON"):
        ModelCache().get(listed["unreadable:exports/cut-export"])


def test_a_run_of_a_moved_workspace_resumes_from_the_app_with_its_dataset_found_again(old, tmp_path):
    from tuning import launcher
    from tuning.config import Hardware

    moved = Workspace.open(tmp_path / "elsewhere")
    shutil.copytree(old.datasets / "sample", moved.datasets / "sample")
    shutil.copytree(old.runs / "old-killed", moved.runs / "old-killed", ignore=shutil.ignore_patterns("checkpoints"))
    seed_demo_model(old.models / "demo", moved.root)
    config = json.loads((moved.runs / "old-killed" / "config.json").read_text())
    (moved.runs / "old-killed" / "config.json").write_text(json.dumps({**config, "max_steps": 2}))
    run = RunDir(moved.runs / "old-killed")
    command = launcher.resume(moved, run, Hardware(cuda=False))
    assert str(moved.datasets / "sample") in command and str(WRITTEN_IN) not in " ".join(command)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and run.state() != "completed":
        time.sleep(1)
    assert run.status().state == "completed" and run.status().step == 2, run.log_tail()
