"""Each reader on real-shaped files: AI Hub JSON (files, folders, zips), KakaoTalk exports, generic rows."""
from __future__ import annotations

import json
import zipfile
from datetime import timedelta

from data.readers import detect_format, read_source
from data.readers.kakao import DEFAULT_GAP
from data.report import Report
from data.sources import iter_sources
from tests.conftest import SAMPLES, aihub_document, write_aihub

KAKAO = SAMPLES / "kakao"


def read_all(paths, fmt="auto", gap=DEFAULT_GAP):
    report = Report()
    conversations = []
    for source in iter_sources([str(p) for p in paths], report):
        try:
            chosen = detect_format(source) if fmt == "auto" else fmt
            conversations += list(read_source(source, chosen, report, gap))
        except Exception as err:  # the pipeline reports these; here we collect them the same way
            report.skip_file(source.name, str(err))
    return conversations, report


# --- AI Hub -----------------------------------------------------------------------------------

def test_aihub_file_gives_speakers_subject_and_norm_text(tmp_path):
    path = write_aihub(tmp_path / "KAKAO_900_01.json", [(1, "안녕 뭐해?"), (2, "밥 먹어"), (1, "맛있겠다")],
                       subject="식음료")
    [conversation], report = read_all([path])
    assert conversation.format == "aihub" and conversation.subject == "식음료"
    assert [(t.speaker, t.text) for t in conversation.turns] == [("1", "안녕 뭐해?"), ("2", "밥 먹어"), ("1", "맛있겠다")]
    assert conversation.default_bot == "2"
    assert not report.skipped_files


def test_aihub_text_loses_its_speaker_prefix_when_norm_text_is_missing(tmp_path):
    path = write_aihub(tmp_path / "a.json", [(1, "안녕"), (2, "응 안녕")], with_norm_text=False)
    [conversation], _ = read_all([path])
    assert [t.text for t in conversation.turns] == ["안녕", "응 안녕"]


def test_aihub_zip_as_shipped_and_zips_inside_folders(tmp_path):
    folder = tmp_path / "download" / "Training"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "TL_01. KAKAO(1).zip", "w") as archive:
        for index in range(3):
            archive.writestr(f"KAKAO_900_{index:02d}.json",
                             json.dumps(aihub_document([(1, f"질문 {index}"), (2, f"대답 {index}")]), ensure_ascii=False))
    write_aihub(tmp_path / "download" / "loose" / "KAKAO_1.json", [(1, "하나"), (2, "둘")])
    conversations, report = read_all([tmp_path / "download"])
    assert len(conversations) == 4
    assert any("TL_01. KAKAO(1).zip!/KAKAO_900_02.json" in c.source for c in conversations)
    assert not report.skipped_files


def test_zip_inside_zip_is_read(tmp_path):
    inner_path = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner_path, "w") as inner:
        inner.writestr("x.json", json.dumps(aihub_document([(1, "a"), (2, "b")])))
    with zipfile.ZipFile(tmp_path / "outer.zip", "w") as outer:
        outer.write(inner_path, "nested/inner.zip")
    conversations, _ = read_all([tmp_path / "outer.zip"])
    assert [c.source for c in conversations] == [f"{tmp_path / 'outer.zip'}!/nested/inner.zip!/x.json"]


def test_zip_with_parent_paths_is_never_written_and_is_reported(tmp_path):
    target = tmp_path / "inside"
    target.mkdir()
    with zipfile.ZipFile(target / "evil.zip", "w") as archive:
        archive.writestr("../../escaped.json", json.dumps(aihub_document([(1, "a"), (2, "b")])))
        archive.writestr("ok.json", json.dumps(aihub_document([(1, "c"), (2, "d")])))
    conversations, report = read_all([target])
    assert len(conversations) == 1
    assert any("unsafe path" in skip["reason"] for skip in report.skipped_files)
    assert not (tmp_path / "escaped.json").exists() and not list(tmp_path.parent.glob("escaped.json"))


def test_cp949_zip_member_names_are_decoded(tmp_path):
    # As Windows' zip writes it: the name's cp949 bytes, no UTF-8 flag (Python's writer would set one).
    path = tmp_path / "korean_names.zip"
    cp949_name = "대화_01.json".encode("cp949")
    placeholder = b"X" * (len(cp949_name) - len(b"_01.json")) + b"_01.json"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(placeholder.decode(), json.dumps(aihub_document([(1, "a"), (2, "b")])))
    path.write_bytes(path.read_bytes().replace(placeholder, cp949_name))
    [conversation], _ = read_all([path])
    assert conversation.source.endswith("!/대화_01.json")


def test_broken_json_is_skipped_with_its_reason_and_the_rest_kept(tmp_path):
    write_aihub(tmp_path / "good.json", [(1, "좋아"), (2, "그래")])
    (tmp_path / "broken.json").write_text('{"info": [{"annotations": {"lines": [', encoding="utf-8")
    (tmp_path / "empty.json").write_text("", encoding="utf-8")
    conversations, report = read_all([tmp_path])
    assert len(conversations) == 1
    reasons = {skip["source"].split("/")[-1]: skip["reason"] for skip in report.skipped_files}
    assert "broken JSON" in reasons["broken.json"]
    assert "empty.json" in reasons


def test_bundled_aihub_sample_has_150_or_more_conversations_with_two_and_three_speakers():
    conversations, report = read_all([SAMPLES / "aihub_synthetic"])
    assert len(conversations) >= 150 and not report.skipped_files
    speaker_counts = {len(c.speakers()) for c in conversations}
    assert speaker_counts == {2, 3}


# --- KakaoTalk --------------------------------------------------------------------------------

def test_kakao_pc_export_joins_continuations_and_drops_system_lines_and_media():
    conversations, report = read_all([KAKAO / "kakao_pc_synthetic.txt"])
    texts = [t.text for c in conversations for t in c.turns]
    assert "11시에 역 앞에서 보자\n그리고 물은 각자 챙겨오기\n간식은 내가 살게" in texts
    assert not any(text in ("사진", "이모티콘", "사진 3장", "삭제된 메시지입니다.") for text in texts)
    assert not any("들어왔습니다" in text or "나갔습니다" in text for text in texts)
    assert conversations[0].names == ("김민수", "이지은", "박서준")
    assert conversations[0].default_bot == "김민수"  # the most active participant


def test_kakao_pc_export_splits_at_a_one_hour_gap_and_at_the_day_change():
    conversations, _ = read_all([KAKAO / "kakao_pc_synthetic.txt"])
    starts = [c.turns[0].time.strftime("%m-%d %H:%M") for c in conversations]
    # 3/8 morning, 3/8 afternoon (gap > 1 h), 3/9 morning (new day), 3/9 evening (gap)
    assert starts == ["03-08 09:48", "03-08 16:10", "03-09 08:30", "03-09 21:05"]


def test_kakao_gap_is_configurable():
    conversations, _ = read_all([KAKAO / "kakao_pc_synthetic.txt"], gap=timedelta(hours=12))
    assert len(conversations) == 3  # the afternoon joins the morning; days still split


def test_kakao_mobile_export():
    conversations, _ = read_all([KAKAO / "kakao_mobile_synthetic.txt"])
    first = conversations[0]
    assert first.format == "kakao"
    assert first.turns[0].speaker == "김민수" and first.turns[0].text == "점심 뭐 먹을래?"
    assert "오 좋아\n거기 줄 길다던데 일찍 나가자" in [t.text for t in first.turns]
    all_text = " ".join(t.text for c in conversations for t in c.turns)
    assert "초대했습니다" not in all_text and "이모티콘" not in all_text
    assert {t.speaker for c in conversations for t in c.turns} == {"김민수", "최유나", "정하늘"}


def test_kakao_mac_csv_with_quoted_multiline_messages():
    conversations, _ = read_all([KAKAO / "kakao_mac_synthetic.csv"])
    texts = [t.text for c in conversations for t in c.turns]
    assert "같이 외울래?\n내가 퀴즈 내줄게" in texts
    assert len(conversations) == 3  # 20:01-20:06, 23:40 (gap), next day


def test_kakao_in_cp949_and_utf8_bom_reads_the_same(tmp_path):
    original = (KAKAO / "kakao_pc_synthetic.txt").read_text(encoding="utf-8")
    (tmp_path / "cp949.txt").write_bytes(original.encode("cp949"))
    (tmp_path / "bom.txt").write_bytes(original.encode("utf-8-sig"))
    (tmp_path / "mac_cp949.csv").write_bytes((KAKAO / "kakao_mac_synthetic.csv").read_text(encoding="utf-8").encode("cp949"))
    expected, _ = read_all([KAKAO / "kakao_pc_synthetic.txt"])
    for name in ("cp949.txt", "bom.txt"):
        got, report = read_all([tmp_path / name])
        assert [t.text for c in got for t in c.turns] == [t.text for c in expected for t in c.turns], name
        assert not report.skipped_files
    csv_conversations, _ = read_all([tmp_path / "mac_cp949.csv"])
    assert csv_conversations[0].turns[0].text == "오늘 수업 숙제 뭐였지?"


def test_a_file_that_is_not_a_chat_export_is_skipped_with_a_reason(tmp_path):
    (tmp_path / "notes.txt").write_text("장보기 목록\n우유\n계란\n", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n")
    conversations, report = read_all([tmp_path])
    assert conversations == []
    reasons = " ".join(skip["reason"] for skip in report.skipped_files)
    assert "not a recognised chat export" in reasons and "not a chat file type" in reasons


# --- Generic ----------------------------------------------------------------------------------

def test_generic_messages_sharegpt_alpaca_and_text_rows(tmp_path):
    rows = [
        {"messages": [{"role": "system", "content": "친절하게"}, {"role": "user", "content": "안녕"},
                      {"role": "assistant", "content": "안녕하세요"}]},
        {"conversations": [{"from": "human", "value": "뭐 해?"}, {"from": "gpt", "value": "공부해"}]},
        {"instruction": "인사해", "input": "", "output": "안녕하세요!"},
        {"text": "user: 밥 먹었어?\nbot: 응 먹었어"},
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\nnot json\n", encoding="utf-8")
    conversations, report = read_all([path])
    assert [c.format for c in conversations] == ["messages", "sharegpt", "alpaca", "text"]
    assert [(t.speaker, t.text) for t in conversations[1].turns] == [("user", "뭐 해?"), ("assistant", "공부해")]
    assert conversations[3].turns[1].speaker == "bot"
    assert report.skipped_lines == [{"source": str(path), "line": 5, "reason": "broken JSON (Expecting value)"}]


def test_generic_json_array_and_forced_format(tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps([{"instruction": "a", "input": "b", "output": "c"},
                                {"messages": [{"role": "user", "content": "x"}]}]), encoding="utf-8")
    conversations, report = read_all([path], fmt="alpaca")
    assert len(conversations) == 1 and conversations[0].turns[0].text == "a\nb"
    assert report.skipped_lines[0]["reason"] == "not a alpaca row"


def test_huge_json_is_refused_without_being_read(tmp_path):
    huge = tmp_path / "huge.json"
    with huge.open("wb") as stream:  # sparse: 300 MB on paper, nothing on disk
        stream.truncate(300 * 2**20)
    conversations, report = read_all([huge])
    assert conversations == []
    assert "too large to load as one JSON document" in report.skipped_files[0]["reason"]
