"""Messages for the user exist in Korean too: the CLI prints them with TUNER_LANG=ko, the report and
a failed run's status carry the translation, and the English stays what it was."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from core.i18n import text_in
from tests.conftest import ROOT


def run_prepare(workspace, lang, *args):
    env = {**os.environ, "TUNER_WORKSPACE": str(workspace.root), "HF_HUB_OFFLINE": "1", "TUNER_LANG": lang}
    return subprocess.run([sys.executable, "-m", "data.prepare", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_prepare_cli_explains_a_bad_input_in_korean(workspace, tmp_path):
    folder = tmp_path / "nothing"
    folder.mkdir()
    (folder / "readme.md").write_text("hello", encoding="utf-8")
    (folder / "broken.json").write_text("{not json", encoding="utf-8")
    result = run_prepare(workspace, "ko", folder, "--out", tmp_path / "out")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "쓸 수 있는 대화를 찾지 못했습니다" in result.stderr
    assert "대화 파일 형식이 아닙니다(.md)" in result.stderr and "형식이 잘못된 JSON입니다" in result.stderr
    assert "No usable conversation" not in result.stderr

    english = run_prepare(workspace, "en", folder, "--out", tmp_path / "out")
    assert "No usable conversation was found" in english.stderr and "not a chat file type (.md)" in english.stderr


def test_report_reasons_carry_korean_and_stay_english_strings(tmp_path, demo_tokenizer):
    from data.prepare import PrepareConfig, prepare, report_of
    from tests.conftest import write_aihub

    write_aihub(tmp_path / "good.json", [(1, "안녕"), (2, "반가워")])
    write_aihub(tmp_path / "alone.json", [(1, "혼자 말해요")])
    (tmp_path / "notes.md").write_text("x", encoding="utf-8")
    config = PrepareConfig(inputs=[str(tmp_path)], val_ratio=0)
    prepared = prepare(config, demo_tokenizer)
    report = prepared.report
    [skip] = report.skipped_files
    assert skip["reason"].startswith("not a chat file type") and text_in(skip["reason"], "ko").startswith("대화 파일")
    assert report.dropped == {"only one speaker": 1}
    assert [text_in(reason, "ko") for reason in report.dropped] == ["화자가 한 명뿐"]
    as_json = json.loads(report_of(prepared, config, "demo").model_dump_json())
    assert as_json["dropped_conversations"] == {"only one speaker": 1}


def test_a_failed_run_records_its_error_in_korean_and_a_restart_clears_it(tmp_path):
    from core.errors import UserError
    from core.runs import DIED, RunDir
    from tuning.process import fail

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    fail(run, UserError("The disk is full.", ko="디스크가 가득 찼습니다."))
    status = run.status()
    assert status.error == "The disk is full." and status.error_ko == "디스크가 가득 찼습니다."
    fail(run, "ValueError: no translation")
    status = run.status()
    assert status.error == "ValueError: no translation" and status.error_ko is None
    run.write_status("running", pid=os.getpid())
    assert run.status().error is None and run.status().error_ko is None
    run.write_status("running", pid=2**22 + 12345)  # a process that does not exist: it died
    status = run.status()
    assert status.error == str(DIED) and status.error_ko == DIED.ko


def test_memory_advice_in_both_languages():
    from tuning.memory import LLAMA3_8B, memory_advice

    advice = memory_advice(LLAMA3_8B, 2, 1024, True, "unsloth", "NVIDIA H200", 139.8)
    assert advice.startswith("Estimated GPU memory") and "Fits NVIDIA H200" in advice
    assert text_in(advice, "ko").startswith("예상 GPU 메모리") and "NVIDIA H200(140 GiB)에 들어갑니다" in text_in(advice, "ko")
