"""Prepare a chat dataset for training: read every input, clean and label the conversations, window
the long ones, split train/validation, and write `train.jsonl`, `val.jsonl` and `report.json`.

    python -m data.prepare INPUT [INPUT ...] --out DIR [--format auto|aihub|kakao|text|messages|sharegpt|alpaca]
        [--speakers blog|numbered] [--bot SPEAKER] [--no-mask-names] [--no-mask-pii] [--keep KIND ...]
        [--val-ratio R] [--seed N] [--max-length N] [--tokenizer demo|PATH|ID] [--gap-minutes M] [--overlap-turns K]
"""
from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from core import artifacts, fileio
from core.artifacts import PII_KINDS, SPEAKER_STYLES, DatasetExample, DatasetReport, PrepareConfig
from core.errors import UserError
from core.i18n import Text, env_lang, text_in
from core.workspace import DatasetPaths
from data import masking, privacy
from data.chat_format import Line, as_messages, render_text, speaker_labels, training_ids
from data.conversation import Conversation
from data.readers import FORMATS, aihub, detect_format, read_source
from data.report import MAX_MASKED_LINES, Report
from data.sources import SkipFile, iter_sources
from data.windows import split_long_lines, windows

__all__ = ["PrepareConfig", "Prepared", "prepare", "write", "report_of", "labelled_conversations", "main"]


@dataclass
class Prepared:
    train: list[dict]
    val: list[dict]
    report: Report
    stats: dict = field(default_factory=dict)

    @property
    def examples(self) -> list[dict]:
        return self.train + self.val


def prepare(config: PrepareConfig, tokenizer) -> Prepared:
    report = Report()
    conversations = list(_read_all(config, report))
    labelled = [(conv, lines) for conv in conversations if (lines := _label(conv, config, report))]
    val_ids = _validation_ids(len(labelled), config.val_ratio, config.seed)
    train, val = [], []
    windowed = cut_lines = windows_without_bot = 0
    for index, (conv, lines) in enumerate(labelled):
        lines, cut = split_long_lines(lines, config.max_length, tokenizer)
        cut_lines += cut
        pieces = windows(lines, config.max_length, config.overlap_turns, tokenizer)
        windowed += len(pieces) > 1
        for number, piece in enumerate(pieces, start=1):
            if not any(line.role == "assistant" for line in piece):
                windows_without_bot += 1  # nothing in it for the bot to learn
                continue
            example = _example(conv, piece, (number, len(pieces)) if len(pieces) > 1 else None, tokenizer)
            (val if index in val_ids else train).append(example)
    if windows_without_bot:
        report.note(Text(f"{windows_without_bot} windows without a bot line were left out",
                         f"봇의 말이 없는 윈도 {windows_without_bot}개를 제외했습니다"))
    if cut_lines:
        report.note(Text(f"{cut_lines} single messages longer than {config.max_length} tokens were cut into pieces",
                         f"{config.max_length} 토큰보다 긴 메시지 {cut_lines}개를 여러 조각으로 나눴습니다"))
    if not train and not val:
        raise UserError(_nothing_usable_message(report))
    prepared = Prepared(train, val, report)
    prepared.stats = _stats(conversations, labelled, prepared, windowed, config)
    return prepared


def write(prepared: Prepared, out_dir: Path, config: PrepareConfig, tokenizer_name: str) -> Path:
    """Writes the dataset folder atomically: a reader sees the old folder or the new one, never half.
    An existing folder is replaced only when it is a prepared dataset (or empty)."""
    out_dir = Path(out_dir)
    with fileio.atomic_dir(out_dir, replaces=is_dataset) as tmp:
        written = DatasetPaths(tmp)
        fileio.write_jsonl(written.train, _rows(prepared.train))
        fileio.write_jsonl(written.val, _rows(prepared.val))
        artifacts.write(written.report, report_of(prepared, config, tokenizer_name))
    return out_dir


def is_dataset(folder: Path) -> bool:
    return DatasetPaths(folder).is_dataset()


def _rows(examples: list[dict]):
    return (DatasetExample.model_validate(example).model_dump(mode="json") for example in examples)


def report_of(prepared: Prepared, config: PrepareConfig, tokenizer_name: str) -> DatasetReport:
    report = prepared.report
    return DatasetReport(
        config=config, tokenizer=tokenizer_name, counts=prepared.stats,
        files=[{"source": source, "format": fmt} for source, fmt in report.files_read.items()],
        skipped_files=report.skipped_files, skipped_lines=report.skipped_lines,
        skipped_line_count=report.skipped_line_count, dropped_conversations=dict(report.dropped), notes=report.notes,
        masked={kind: report.masked[kind] for kind in PII_KINDS if report.masked[kind]},
    )


def labelled_conversations(config: PrepareConfig) -> Iterator[list[Line]]:
    """Every usable conversation of the inputs as labelled lines (no windows, no split)."""
    report = Report()
    for conversation in _read_all(config, report):
        if lines := _label(conversation, config, report):
            yield lines


def _read_all(config: PrepareConfig, report: Report):
    gap = timedelta(minutes=config.gap_minutes)
    for source in iter_sources(config.inputs, report):
        try:
            fmt = detect_format(source) if config.format == "auto" else config.format
            found = 0
            for conversation in read_source(source, fmt, report, gap):
                found += 1
                yield conversation
                fmt = conversation.format if fmt == "generic" else fmt
        except SkipFile as err:
            report.skip_file(source.name, err.reason)
            continue
        except UnicodeDecodeError as err:
            report.skip_file(source.name, Text(f"could not be decoded as {err.encoding}",
                                               f"{err.encoding}(으)로 디코딩할 수 없습니다"))
            continue
        except OSError as err:
            report.skip_file(source.name, Text(f"could not be read ({err})", f"읽을 수 없습니다({err})"))
            continue
        if found:
            report.files_read[source.name] = fmt
        elif not any(skip["source"] == source.name for skip in report.skipped_files):
            report.skip_file(source.name, Text("no conversations in it", "대화가 없습니다"))


def _label(conv: Conversation, config: PrepareConfig, report: Report) -> list[Line] | None:
    """The conversation as labelled lines, or None (counted in the report) when it can't be trained on."""
    turns = [turn for turn in conv.turns if turn.speaker != "system" and not masking.is_system_only(turn.text)]
    if config.mask_names:
        texts = [masking.mask_text(turn.text, conv.names) for turn in turns]
    else:
        texts = [turn.text.strip() for turn in turns]
    if config.mask_pii and conv.format != "aihub":  # AI Hub's own tags de-identify it (masking.TAG_PLACEHOLDERS)
        kinds = [kind for kind in PII_KINDS if kind not in config.keep]
        known = privacy.participant_words(conv.names)
        texts = [_masked(text, kinds, known, report) for text in texts]
    kept = [(turn.speaker, text) for turn, text in zip(turns, texts) if text]
    if not kept:
        report.dropped[Text("empty", "내용 없음")] += 1
        return None
    speakers = list(dict.fromkeys(speaker for speaker, _ in kept))
    if len(speakers) < 2:
        report.dropped[Text("only one speaker", "화자가 한 명뿐")] += 1
        return None
    bot = _bot_for(conv, config)
    if bot not in speakers:
        report.dropped[Text(f"the bot speaker '{bot}' never speaks", f"봇 화자 '{bot}'의 말이 없음")] += 1
        return None
    if conv.format == "kakao" and config.bot is None:
        report.note(Text(f"{conv.source}: bot = {bot} (the most active participant; choose another with --bot)",
                         f"{conv.source}: 봇 = {bot} (가장 말을 많이 한 참여자입니다. 다른 화자는 --bot으로 고르세요)"))
    labels = speaker_labels(speakers, bot, config.speakers)
    return [Line(labels[speaker], "assistant" if speaker == bot else "user", text) for speaker, text in kept]


def _masked(text: str, kinds: list[str], known: list[str], report: Report) -> str:
    findings = privacy.find(text, kinds, known)
    if findings:
        report.masked.update(item.kind for item in findings)
        if len(report.masked_lines) < MAX_MASKED_LINES:
            report.masked_lines.append((text, findings))
    return privacy.masked(text, findings)


def _bot_for(conv: Conversation, config: PrepareConfig) -> str:
    if conv.role_based or not config.bot:
        return conv.default_bot or ""
    return aihub.normalize_speaker(config.bot) if conv.format == "aihub" else config.bot.strip()


def _validation_ids(count: int, ratio: float, seed: int) -> set[int]:
    """Whole conversations go to validation, so no window of one leaks into the other split."""
    if ratio <= 0 or count < 2:
        return set()
    n_val = min(count - 1, max(1, round(count * ratio)))
    return set(random.Random(seed).sample(range(count), n_val))


def _example(conv: Conversation, lines: list[Line], window, tokenizer) -> dict:
    text = render_text(lines)
    return {
        "source": conv.source,
        "format": conv.format,
        "subject": conv.subject,
        "window": list(window) if window else None,
        "messages": as_messages(lines),
        "text": text,
        "num_tokens": len(training_ids(text, tokenizer)),
    }


def _stats(conversations, labelled, prepared: Prepared, windowed: int, config: PrepareConfig) -> dict:
    examples = prepared.examples
    # Real speakers, not labels: in the blog style three speakers share two labels.
    speakers_per_conversation = Counter(len(conv.speakers()) for conv, _ in labelled)
    return {
        "files_read": len(prepared.report.files_read),
        "files_skipped": len(prepared.report.skipped_files),
        "conversations_found": len(conversations),
        "conversations_kept": len(labelled),
        "conversations_dropped": sum(prepared.report.dropped.values()),
        "conversations_windowed": windowed,
        "windowed_share": round(windowed / len(labelled), 4) if labelled else 0.0,
        "train_examples": len(prepared.train),
        "val_examples": len(prepared.val),
        "turns": sum(len(example["messages"]) for example in examples),
        "speakers_per_conversation": {str(k): v for k, v in sorted(speakers_per_conversation.items())},
        "tokens_per_example": [example["num_tokens"] for example in examples],
        "max_length": config.max_length,
    }


def _nothing_usable_message(report: Report) -> Text:
    reasons = [Text(f"{skip['source']}: {skip['reason']}", f"{skip['source']}: {text_in(skip['reason'], 'ko')}")
               for skip in report.skipped_files[:10]]
    reasons += [Text(f"{count} conversation(s) dropped: {reason}", f"대화 {count}개 제외됨: {text_in(reason, 'ko')}")
                for reason, count in report.dropped.items()]
    reasons += report.notes
    detail = "\n  ".join(reasons) or "no input files were found"
    detail_ko = "\n  ".join(text_in(reason, "ko") for reason in reasons) or "입력 파일을 찾지 못했습니다"
    return Text(f"No usable conversation was found.\n  {detail}", f"쓸 수 있는 대화를 찾지 못했습니다.\n  {detail_ko}")


def _parse_args(argv: list[str] | None) -> tuple[PrepareConfig, Path]:
    defaults = PrepareConfig(inputs=["-"])
    parser = argparse.ArgumentParser(prog="python -m data.prepare", description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or zips")
    parser.add_argument("--out", required=True, type=Path, help="folder to write train.jsonl, val.jsonl, report.json")
    parser.add_argument("--format", choices=FORMATS, default=defaults.format)
    parser.add_argument("--speakers", choices=SPEAKER_STYLES, default=defaults.speakers)
    parser.add_argument("--bot", default=None, metavar="SPEAKER", help=PrepareConfig.model_fields["bot"].description)
    parser.add_argument("--no-mask-names", dest="mask_names", action="store_false")
    parser.add_argument("--no-mask-pii", dest="mask_pii", action="store_false",
                        help="leave personal information in KakaoTalk and generic inputs as it is")
    parser.add_argument("--keep", action="append", default=[], choices=PII_KINDS, metavar="KIND",
                        help=f"a kind of personal information to leave as it is (repeatable): {', '.join(PII_KINDS)}")
    parser.add_argument("--val-ratio", type=float, default=defaults.val_ratio)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--max-length", type=int, default=defaults.max_length)
    parser.add_argument("--tokenizer", default=defaults.tokenizer, help=PrepareConfig.model_fields["tokenizer"].description)
    parser.add_argument("--gap-minutes", type=float, default=defaults.gap_minutes)
    parser.add_argument("--overlap-turns", type=int, default=defaults.overlap_turns)
    args = vars(parser.parse_args(argv))
    out_dir = args.pop("out")
    return PrepareConfig(**args), out_dir


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    from models.resolve import load_tokenizer

    try:
        config, out_dir = _parse_args(argv)
        fileio.check_replaceable(out_dir, is_dataset)  # before the work, not after it
        tokenizer = load_tokenizer(config.tokenizer)
        prepared = prepare(config, tokenizer)
        write(prepared, out_dir, config, config.tokenizer)
    except ValidationError as err:
        print(f"error: {artifacts.describe_validation(err)}", file=sys.stderr)
        return 2
    except UserError as err:
        print(f"error: {err.text()}", file=sys.stderr)
        return 1
    stats = prepared.stats
    lang = env_lang()
    print(text_in(Text(f"{stats['train_examples']} train / {stats['val_examples']} validation examples from "
                       f"{stats['conversations_kept']} conversations ({stats['conversations_dropped']} dropped, "
                       f"{stats['files_skipped']} files skipped) -> {out_dir}",
                       f"대화 {stats['conversations_kept']}개에서 학습 예제 {stats['train_examples']}개, 검증 예제 "
                       f"{stats['val_examples']}개를 만들었습니다(대화 {stats['conversations_dropped']}개 제외됨, "
                       f"파일 {stats['files_skipped']}개 건너뜀) -> {out_dir}"), lang))
    masked = prepared.report.masked
    if masked:
        counts = ", ".join(f"{kind} {masked[kind]}" for kind in PII_KINDS if masked[kind])
        print(text_in(Text(f"personal information masked: {counts}", f"가린 개인정보: {counts}"), lang))
    for skip in prepared.report.skipped_files:
        skipped = "건너뜀" if lang == "ko" else "skipped"
        print(f"{skipped} {skip['source']}: {text_in(skip['reason'], lang)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
