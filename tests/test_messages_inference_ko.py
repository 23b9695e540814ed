"""The inference package speaks Korean too: command lines by TUNER_LANG, the page through Text and stats(lang)."""
from __future__ import annotations

import os
import subprocess
import sys

from core.errors import UserError
from core.i18n import Text, text_in
from inference.chat import Reply, side_by_side
from inference.export import step_name
from tests.conftest import ROOT


def cli(module: str, *args: str, lang: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TUNER_LANG": lang, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


def test_the_chat_cli_explains_a_missing_or_foreign_file_in_korean(tmp_path):
    missing = cli("inference.chat", str(tmp_path / "없는-모델.gguf"), "--prompt", "안녕", lang="ko")
    assert missing.returncode == 1 and "error: " in missing.stderr
    assert "GGUF 파일이 없습니다" in missing.stderr and "Traceback" not in missing.stderr
    foreign = tmp_path / "notes.gguf"
    foreign.write_text("not a model")
    refused = cli("inference.chat", str(foreign), "--prompt", "안녕", lang="ko")
    assert refused.returncode == 1 and "notes.gguf은(는) GGUF 파일이 아닙니다" in refused.stderr
    assert "Traceback" not in refused.stderr
    english = cli("inference.chat", str(foreign), "--prompt", "hi", lang="en")
    assert english.returncode == 1 and "notes.gguf is not a GGUF file" in english.stderr


def test_the_publish_cli_explains_a_folder_that_is_no_export_in_korean(tmp_path):
    result = cli("inference.publish", str(tmp_path), "--file", "model-q4_k_m.gguf", "--out", str(tmp_path / "space"),
                 lang="ko")
    assert result.returncode == 1 and "내보내기 폴더가 아닙니다" in result.stderr
    assert "Traceback" not in result.stderr


def test_reply_stats_in_korean_and_english():
    writing = Reply(tokens=5)
    assert writing.stats() == "writing… 5 tokens" and writing.stats("ko") == "작성 중… 토큰 5개"
    done = Reply(tokens=11, decode_s=2.0, first_token_s=0.25, seed=7, dropped_lines=3, done=True)
    assert done.stats() == ("11 tokens · 5.0 tok/s · first token 0.25 s · seed 7 · "
                            "3 oldest lines left out to fit the context")
    assert done.stats("ko").startswith("토큰 11개 · 5.0 tok/s · 첫 토큰 0.25초 · 시드 7 · ")
    failed = Reply(error=Text("Type a message first.", "먼저 메시지를 입력하세요."), done=True)
    assert failed.stats() == "⚠️ Type a message first." and failed.stats("ko") == "⚠️ 먼저 메시지를 입력하세요."


def test_a_failed_pane_carries_its_translation_to_the_page():
    def refused():
        raise UserError("Type a message first.", ko="먼저 메시지를 입력하세요.")
        yield

    def broken():
        raise RuntimeError("boom")
        yield

    *_, (first, second) = side_by_side([refused(), broken()], interval=0)
    assert first.error == "Type a message first." and text_in(first.error, "ko") == "먼저 메시지를 입력하세요."
    assert UserError(first.error).text("ko") == "먼저 메시지를 입력하세요."
    assert second.error == "RuntimeError: boom"


def test_export_progress_steps_in_korean():
    assert step_name("quantize q8_0", korean=True) == "양자화 q8_0" and step_name("merge", korean=True) == "병합"
    assert step_name("quantize q8_0", korean=False) == "quantize q8_0"
