"""Precision and recall of the personal-information detector that preparation uses (data/privacy.py:
ko-pii plus three patterns) on bench/pii/labelled.jsonl, a labelled sample of chat lines with
planted values of every kind and ordinary lines that must stay untouched; ko-pii alone beside it.

    .venv/bin/python bench/pii_detection.py     # writes bench/results/pii_detection-<date>.json

A finding is a hit when it overlaps a labelled span of the same kind (foreigner registration numbers
count as `rrn`). bench/pii/evaluate.py compared ten PyPI packages on the same lines (results.json).
"""
from __future__ import annotations

import datetime
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.artifacts import PII_KINDS  # noqa: E402
from data import privacy  # noqa: E402

LABELLED = ROOT / "bench" / "pii" / "labelled.jsonl"
SAMPLE = ROOT / "data" / "samples" / "aihub_synthetic"


def sample_lines() -> list[str]:
    """Every line of the bundled chat sample: ordinary chat with no personal information in it (AI Hub
    masks names with `*`), so every finding there is a false one."""
    return [line.get("norm_text") or line["text"] for path in sorted(SAMPLE.glob("*.json"))
            for info in json.loads(path.read_text(encoding="utf-8"))["info"] for line in info["annotations"]["lines"]]


def false_findings(lines: list[str], detect) -> list[str]:
    return [f"{item.kind}: {item.text} | {line}" for line in lines for item in detect(line)]


KO_PII_LABELS = {**privacy.KO_PII_KINDS, "PERSON": "name"}


def ko_pii_alone(text: str) -> list[privacy.Finding]:
    from ko_pii import detect_all

    return [privacy.Finding(KO_PII_LABELS[result.label], result.start, result.end, result.text)
            for result in detect_all(text, include=list(KO_PII_LABELS))]


def score(rows: list[dict], detect) -> dict:
    true, found, hit, labelled_hit = Counter(), Counter(), Counter(), Counter()
    clean_changed, missed, wrong = [], [], []
    for row in rows:
        spans = [{**span, "kind": "rrn" if span["kind"] == "frn" else span["kind"]} for span in row["spans"]]
        findings = detect(row["text"])
        if not spans and findings:
            clean_changed.append(row["text"])
        for span in spans:
            true[span["kind"]] += 1
            if any(item.kind == span["kind"] and item.start < span["end"] and span["start"] < item.end for item in findings):
                labelled_hit[span["kind"]] += 1
            else:
                missed.append(f"{span['kind']}: {row['text'][span['start']:span['end']]}")
        for item in findings:
            found[item.kind] += 1
            if any(item.kind == span["kind"] and item.start < span["end"] and span["start"] < item.end for span in spans):
                hit[item.kind] += 1
            else:
                wrong.append(f"{item.kind}: {item.text}")
    per_kind = {kind: {"labelled": true[kind], "found": found[kind],
                       "precision": round(hit[kind] / found[kind], 3) if found[kind] else None,
                       "recall": round(labelled_hit[kind] / true[kind], 3) if true[kind] else None}
                for kind in PII_KINDS}
    return {"precision": round(sum(hit.values()) / max(1, sum(found.values())), 3),
            "recall": round(sum(labelled_hit.values()) / max(1, sum(true.values())), 3),
            "clean_lines_changed": clean_changed, "per_kind": per_kind, "missed": missed, "wrong": wrong}


def main() -> None:
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    import importlib.metadata

    result = {"date": datetime.date.today().isoformat(), "command": "python bench/pii_detection.py",
              "ko_pii": importlib.metadata.version("ko-pii"), "lines": len(rows),
              "clean_lines": sum(1 for row in rows if not row["spans"]),
              "spans": sum(len(row["spans"]) for row in rows),
              "project": score(rows, privacy.find), "ko_pii_alone": score(rows, ko_pii_alone)}
    ordinary = sample_lines()
    result["ordinary_chat"] = {"lines": len(ordinary), "source": "data/samples/aihub_synthetic",
                               "project": false_findings(ordinary, privacy.find),
                               "ko_pii_alone": false_findings(ordinary, ko_pii_alone)}
    out = ROOT / "bench" / "results" / f"pii_detection-{result['date']}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    for name in ("project", "ko_pii_alone"):
        figures = result[name]
        print(f"{name}: precision {figures['precision']} recall {figures['recall']}, "
              f"{len(figures['clean_lines_changed'])} of {result['clean_lines']} ordinary lines changed")
        print("  " + ", ".join(f"{kind} {v['precision']}/{v['recall']}" for kind, v in figures["per_kind"].items()))
        print(f"  ordinary chat: {len(result['ordinary_chat'][name])} findings in {len(ordinary)} lines")
    print("missed:", result["project"]["missed"])
    print("wrong:", result["project"]["wrong"], result["project"]["clean_lines_changed"])


if __name__ == "__main__":
    main()
