"""Personal information in chat logs is masked by data preparation (issue 18), through the command line
as a user runs it, on KakaoTalk exports written here with planted values of every kind."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core import artifacts
from core.artifacts import PII_KINDS, DatasetReport
from data import privacy

ROOT = Path(__file__).resolve().parent.parent
HEADER = "동네 친구들 님과 카카오톡 대화\n저장한 날짜 : 2026-11-20 21:02:11\n\n--------------- 2026년 11월 18일 수요일 ---------------\n"

# (kind, value as typed in the chat, the message it is typed in); none of these is in bench/pii/labelled.jsonl
PLANTED = [
    ("phone", "010-9182-7364", "내 새 번호 {} 저장해줘"),
    ("phone", "031-765-4321", "가게 번호는 {}야"),
    ("rrn", "851212-2345674", "보험 가입하는데 주민번호 {} 맞지?"),
    ("rrn", "920315-5123458", "외국인등록번호 {} 적어두면 돼"),
    ("card", "5409 9612 3456 7898", "이 카드 {} 로 결제했어"),
    ("account", "110-234-567890", "신한 {} 로 보내줘"),
    ("account", "3333-12-3456789", "카뱅 {} 여기로 입금 부탁"),
    ("email", "jiyoung.park@naver.com", "{} 으로 파일 보내줄래?"),
    ("url", "https://bit.ly/3xYzAbC", "이거 봐봐 {} ㅋㅋ"),
    ("url", "www.instagram.com/jiyoung_daily", "내 인스타 {} 팔로우해"),
    ("address", "서울특별시 마포구 월드컵북로 396", "새 집 주소는 {} 이야"),
    ("address", "망원동 412-7", "택배 {} 으로 보내면 돼"),
    ("address", "203동 1504호", "우리 집 {} 이야 놀러와"),
    ("plate", "34나 5678", "주차장에 {} 흰색 차 내 거야"),
    ("plate", "경기 12다 3456", "{} 차 빼달래"),
    ("name", "최동훈", "{} 선배가 오늘 밥 산대"),
    ("name", "임수정", "예금주 {} 맞아?"),
]
# Chat that holds numbers and words that look like personal information but are not
ORDINARY = ["오늘 3시에 보자", "오후 7:30 홍대입구역 9번 출구", "치킨 2인분에 콜라 1.25L 시켰어 ㅋㅋ",
            "1인당 18,500원씩 보내줘", "3만원이면 충분하지?", "010 번호는 다 비슷하게 생겼네", "어제 경기 3:1로 이겼음",
            "배터리 12% 남음 ㅠㅠ", "7016번 버스 타면 돼", "KTX 7호차 12A석이야", "2025.12.24에 만나자",
            "우리 반 3-2반이야", "iOS 18.1 업데이트 했어?", "고마워 언니 진짜 최고", "주문번호 20251118-0042 확인해봐",
            "오늘 8,432보 걸었다", "박수 쳐줘 ㅎㅎ", "김치찌개 먹을래 김밥 먹을래", "회의실 501호에서 봬요", "넵 알겠습니다!"]


def export(lines: list[str]) -> str:
    speakers = ["정지영", "한도윤"]
    body = "".join(f"[{speakers[index % 2]}] [오후 {1 + index // 30}:{index % 30 + 10:02d}] {line}\n"
                   for index, line in enumerate(lines))
    return HEADER + body


def prepare(tmp_path: Path, source_text: str, *options: str) -> tuple[str, DatasetReport]:
    source = tmp_path / "KakaoTalk_chat.txt"
    source.write_text(source_text, encoding="utf-8")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "data.prepare", str(source), "--out", str(out), "--val-ratio", "0",
                             *options], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for name in ("train.jsonl", "val.jsonl")
            for line in (out / name).read_text(encoding="utf-8").splitlines()]
    written = "\n".join(message["content"] for row in rows for message in row["messages"])
    return written, artifacts.read(out / "report.json", DatasetReport)


def test_every_planted_kind_is_masked_and_counted(tmp_path):
    lines = [message.format(value) for _, value, message in PLANTED] + ORDINARY
    written, report = prepare(tmp_path, export(lines))
    left = [value for _, value, _ in PLANTED if value in written or value.replace(" ", "") in written]
    assert not left, f"planted values left in the dataset: {left}"
    assert set(report.masked) == set(PII_KINDS) and report.config.mask_pii
    for kind in PII_KINDS:
        assert report.masked[kind] >= sum(1 for planted_kind, _, _ in PLANTED if planted_kind == kind), kind
    assert "<phone>" in written and "<account>" in written and "<plate>" in written
    for line in ORDINARY:  # the ordinary lines beside them are untouched
        assert line in written


def test_an_export_of_ordinary_chat_comes_out_unchanged(tmp_path):
    (tmp_path / "on").mkdir()
    (tmp_path / "off").mkdir()
    masked, report = prepare(tmp_path / "on", export(ORDINARY))
    unmasked, _ = prepare(tmp_path / "off", export(ORDINARY), "--no-mask-pii")
    assert masked == unmasked == "\n".join(ORDINARY)
    assert report.masked == {}


def test_a_kind_can_be_kept_and_masking_switched_off(tmp_path):
    lines = [message.format(value) for _, value, message in PLANTED]
    (tmp_path / "keep").mkdir()
    kept, report = prepare(tmp_path / "keep", export(lines), "--keep", "phone", "--keep", "url")
    assert "010-9182-7364" in kept and "https://bit.ly/3xYzAbC" in kept and "851212-2345674" not in kept
    assert report.config.keep == ["phone", "url"] and "phone" not in report.masked and report.masked["rrn"] >= 2
    assert report.pii_masked() == [kind for kind in PII_KINDS if kind not in ("phone", "url")]
    (tmp_path / "off").mkdir()
    raw, report = prepare(tmp_path / "off", export(lines), "--no-mask-pii")
    assert all(value in raw for _, value, _ in PLANTED) and report.pii_masked() == []


def test_participants_are_not_counted_as_other_peoples_names():
    text = "지영아 도윤이랑 최동훈 선배 만났어"
    findings = privacy.find(text, known_names=privacy.participant_words(["정지영", "한도윤", "최동훈"]))
    assert [item.kind for item in findings] == []
    assert [item.text for item in privacy.find(text)] == ["최동훈"]


def test_a_dataset_prepared_before_masking_existed_reads_as_masking_off(tmp_path):
    old = {"schema_version": 1, "config": {"inputs": ["chat.txt"]}, "tokenizer": "demo"}
    (tmp_path / "report.json").write_text(json.dumps(old), encoding="utf-8")
    report = artifacts.read(tmp_path / "report.json", DatasetReport)
    assert report.config.mask_pii is False and report.pii_masked() == []


def test_the_detector_keeps_its_measured_precision_and_recall():
    """bench/pii_detection.py's figures on the labelled sample, as a floor (docs/benchmarks.md)."""
    sys.path.insert(0, str(ROOT))
    from bench.pii_detection import LABELLED, false_findings, sample_lines, score

    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    figures = score(rows, privacy.find)
    assert figures["precision"] >= 0.95 and figures["recall"] >= 0.85 and not figures["clean_lines_changed"]
    assert false_findings(sample_lines(), privacy.find) == []  # 2,928 lines of ordinary chat left alone
