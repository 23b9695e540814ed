"""Walks the user's inputs (files, folders, zips, zips inside folders or zips) without extracting
anything to disk, and opens each file as text in whichever encoding it was written in."""
from __future__ import annotations

import codecs
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from core.i18n import Text
from data.report import Report

SNIFF_BYTES = 64 * 1024
CHAT_SUFFIXES = {".json", ".jsonl", ".txt", ".csv"}


class SkipFile(Exception):
    """Raised by a reader when a whole file can't be used; the message says why, for the report
    (in English, and in Korean when `ko` is given)."""

    def __init__(self, message: str, ko: str | None = None):
        super().__init__(message)
        self.reason: str = Text(message, ko) if ko else message


@dataclass(frozen=True)
class SourceFile:
    name: str                           # shown to the user: "a/b.json" or "x.zip!/b.json"
    size: int
    opener: Callable[[], BinaryIO]

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name.split("!/")[-1]).suffix.lower()

    def open_binary(self) -> BinaryIO:
        return self.opener()

    def head(self, n_bytes: int = SNIFF_BYTES) -> bytes:
        with self.opener() as stream:
            return stream.read(n_bytes)

    def encoding(self) -> str:
        return detect_encoding(self.head())

    def open_text(self, newline: str | None = None) -> io.TextIOWrapper:
        """The file as text, decoded strictly: a decoding error part-way stops that file, with a reason."""
        return io.TextIOWrapper(self.opener(), encoding=self.encoding(), errors="strict", newline=newline)

    def read_text(self, limit: int) -> str:
        if self.size > limit:
            raise SkipFile(
                f"too large to load as one JSON document ({self.size / 2**20:.0f} MiB, limit "
                f"{limit / 2**20:.0f} MiB); save it as JSONL (one object per line) instead",
                ko=f"JSON 문서 하나로 읽기에는 너무 큽니다({self.size / 2**20:.0f} MiB, 한도 "
                   f"{limit / 2**20:.0f} MiB). 대신 JSONL(한 줄에 객체 하나)로 저장하세요",
            )
        with self.open_text() as text:
            return text.read()


def detect_encoding(head: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or cp949 (Korean Windows, old KakaoTalk PC)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "cp949"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    raise SkipFile("not text in UTF-8, UTF-16 or cp949 (is it a binary file?)",
                   ko="UTF-8, UTF-16, cp949 텍스트가 아닙니다(바이너리 파일인가요?)")


def iter_sources(inputs: list[str | Path], report: Report) -> Iterator[SourceFile]:
    """Every candidate chat file under the inputs, in a stable order."""
    for raw_input in inputs:
        path = Path(raw_input)
        if not path.exists():
            report.skip_file(str(raw_input), Text("no such file or folder", "파일이나 폴더가 없습니다"))
        elif path.is_dir():
            found_any = False
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if _is_hidden(child.relative_to(path)):
                    continue
                found_any = True
                yield from _from_path(child, str(child), report)
            if not found_any:
                report.skip_file(str(path), Text("the folder is empty", "폴더가 비어 있습니다"))
        else:
            yield from _from_path(path, str(path), report)


def _from_path(path: Path, name: str, report: Report) -> Iterator[SourceFile]:
    if path.suffix.lower() == ".zip":
        yield from _from_zip(lambda: path.open("rb"), name, report)
    elif path.suffix.lower() in CHAT_SUFFIXES:
        yield SourceFile(name, path.stat().st_size, lambda: path.open("rb"))
    else:
        suffix = path.suffix or "no extension"
        report.skip_file(name, Text(f"not a chat file type ({suffix}); expected .json, .jsonl, .txt, .csv or .zip",
                                    f"대화 파일 형식이 아닙니다({path.suffix or '확장자 없음'}). "
                                    ".json, .jsonl, .txt, .csv, .zip 파일이어야 합니다"))


def _from_zip(open_zip: Callable[[], BinaryIO], name: str, report: Report) -> Iterator[SourceFile]:
    try:
        with open_zip() as zip_stream, zipfile.ZipFile(zip_stream) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        report.skip_file(name, Text(f"not a readable zip file ({err})", f"읽을 수 있는 zip 파일이 아닙니다({err})"))
        return
    for member in sorted(members, key=lambda m: m.filename):
        member_name = _zip_member_name(member)
        shown = f"{name}!/{member_name}"
        if member_name.startswith("/") or ".." in PurePosixPath(member_name).parts:
            report.skip_file(shown, Text("unsafe path inside the zip (absolute or '..'); ignored",
                                         "zip 안의 안전하지 않은 경로(절대 경로 또는 '..')라 무시했습니다"))
            continue
        if _is_hidden(PurePosixPath(member_name)):
            continue
        opener = _zip_member_opener(open_zip, member.filename)
        suffix = PurePosixPath(member_name).suffix.lower()
        if suffix == ".zip":
            yield from _from_zip(opener, shown, report)
        elif suffix in CHAT_SUFFIXES:
            yield SourceFile(shown, member.file_size, opener)
        else:
            report.skip_file(shown, Text(f"not a chat file type ({suffix or 'no extension'})",
                                         f"대화 파일 형식이 아닙니다({suffix or '확장자 없음'})"))


def _zip_member_opener(open_zip: Callable[[], BinaryIO], member: str) -> Callable[[], BinaryIO]:
    def open_member() -> BinaryIO:
        zip_stream = open_zip()
        archive = zipfile.ZipFile(zip_stream)
        member_stream = archive.open(member)
        original_close = member_stream.close

        def close_all():  # closing the member also closes the archive and the file under it
            original_close()
            archive.close()
            zip_stream.close()

        member_stream.close = close_all
        return member_stream

    return open_member


def _zip_member_name(member: zipfile.ZipInfo) -> str:
    """Korean zips made on Windows store cp949 names without the UTF-8 flag; Python reads them as cp437."""
    if member.flag_bits & 0x800:
        return member.filename
    try:
        return member.filename.encode("cp437").decode("cp949")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return member.filename


def _is_hidden(relative: PurePosixPath | Path) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in relative.parts)
