"""Splitting conversations longer than the max sequence length into overlapping windows at turn
boundaries, so nothing is silently truncated by the trainer."""
from __future__ import annotations

from data.chat_format import Line, count_tokens, render_text, special_overhead, training_ids


def split_long_lines(lines: list[Line], max_length: int, tokenizer) -> tuple[list[Line], int]:
    """Cuts any single utterance that could not fit a window on its own into pieces that do.

    Returns the new lines and how many utterances were cut.
    """
    budget = max_length - special_overhead(tokenizer) - 8  # room for the "label: " prefix and a newline
    cut = 0
    result: list[Line] = []
    for line, n_tokens in zip(lines, count_tokens([line.render() for line in lines], tokenizer)):
        if n_tokens <= budget:
            result.append(line)
            continue
        cut += 1
        # Cut at character offsets: decoding byte-level token slices could split a Hangul syllable.
        offsets = tokenizer(line.content, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        cuts = [0] + [offsets[end - 1][1] for end in range(budget, len(offsets), budget)] + [len(line.content)]
        for start, end in zip(cuts, cuts[1:]):
            if piece := line.content[start:end].strip():
                result.append(Line(line.label, line.role, piece))
    return result, cut


def windows(lines: list[Line], max_length: int, overlap_turns: int, tokenizer) -> list[list[Line]]:
    """Consecutive runs of lines that each fit `max_length` tokens; each starts `overlap_turns` lines
    before the previous one ended, so the model sees the context a reply answers."""
    if fits(lines, max_length, tokenizer):
        return [lines]
    line_tokens = count_tokens([line.render() + "\n" for line in lines], tokenizer)
    overhead = special_overhead(tokenizer)
    result = []
    start = 0
    while start < len(lines):
        end, total = start, overhead
        while end < len(lines) and total + line_tokens[end] <= max_length:
            total += line_tokens[end]
            end += 1
        end = max(end, start + 1)
        # Counting lines one by one can differ by a token from the joined text; trust the real count.
        while end > start + 1 and not fits(lines[start:end], max_length, tokenizer):
            end -= 1
        result.append(lines[start:end])
        if end >= len(lines):
            break
        start = max(end - overlap_turns, start + 1)
    return result


def fits(lines: list[Line], max_length: int, tokenizer) -> bool:
    return len(training_ids(render_text(lines), tokenizer)) <= max_length
