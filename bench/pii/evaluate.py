"""Evaluate Korean PII detectors on labelled.jsonl -> results.json.

Each adapter returns [(start, end, kinds:set[str], raw_label, text)] with character
offsets into the line.  kinds is a subset of KINDS, or {"other"} for labels outside
our ten (AGE, POSITION, DATE, ...).  A detection is a typed hit when it overlaps a
labelled span whose kind is in its kinds; a kind-agnostic hit when it overlaps any
labelled span.

Run:  /tmp/piivenv/bin/python evaluate.py   (every candidate is optional; a failing
import is recorded in results.json instead of aborting).
"""
from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ["phone", "rrn", "frn", "card", "account", "email", "url", "address", "plate", "name"]
logging.disable(logging.CRITICAL)  # presidio/tldextract log a failed public-suffix fetch offline


def m(label, table):
    k = table.get(label)
    if k is None:
        return {"other"}
    return set(k) if isinstance(k, (set, frozenset, tuple, list)) else {k}


# ---------------------------------------------------------------- adapters
def make_ko_pii():
    from ko_pii import detect_all
    T = {"PHONE": "phone", "FAX": "phone", "RRN": "rrn", "FRN": "frn", "CARD": "card",
         "ACCOUNT": "account", "EMAIL": "email", "URL": "url", "ADDRESS": "address",
         "VEHICLE": "plate", "PERSON": "name"}

    def run(text):
        return [(d.start, d.end, m(d.label, T), d.label, d.text) for d in detect_all(text)]
    return run


KO_PII_OURS = ["PHONE", "FAX", "RRN", "FRN", "CARD", "ACCOUNT", "EMAIL", "URL", "ADDRESS", "VEHICLE", "PERSON"]


def make_ko_pii_anonymizer():
    """What ko-pii would actually mask: Anonymizer(STRICT) restricted to our labels, BLOCK actions."""
    from ko_pii import Action, Anonymizer, ProcessingMode
    an = Anonymizer(mode=ProcessingMode.STRICT, strategy="redact", include=KO_PII_OURS)
    T = {"PHONE": "phone", "FAX": "phone", "RRN": "rrn", "FRN": "frn", "CARD": "card",
         "ACCOUNT": "account", "EMAIL": "email", "URL": "url", "ADDRESS": "address",
         "VEHICLE": "plate", "PERSON": "name"}

    def run(text):
        res = an.process(text)
        return [(r.detection.start, r.detection.end, m(r.detection.label, T), r.detection.label,
                 r.detection.text) for r in res.detections if r.action == Action.BLOCK]
    return run


def make_ko_pii_doc():
    """detect_all on the whole file joined with newlines (a chat room as one document), so the
    per-document name dictionary can re-find names seen elsewhere; spans mapped back per line."""
    from ko_pii import detect_all
    rows = [json.loads(l) for l in (HERE / "labelled.jsonl").read_text(encoding="utf-8").splitlines() if l.strip()]
    texts = [r["text"] for r in rows]
    doc = "\n".join(texts)
    starts, pos = [], 0
    for t in texts:
        starts.append(pos); pos += len(t) + 1
    per = {t: [] for t in texts}
    T = {"PHONE": "phone", "FAX": "phone", "RRN": "rrn", "FRN": "frn", "CARD": "card",
         "ACCOUNT": "account", "EMAIL": "email", "URL": "url", "ADDRESS": "address",
         "VEHICLE": "plate", "PERSON": "name"}
    import bisect
    for d in detect_all(doc):
        i = bisect.bisect_right(starts, d.start) - 1
        s0 = starts[i]
        per[texts[i]].append((d.start - s0, min(d.end - s0, len(texts[i])), m(d.label, T), d.label, d.text))

    def run(text):
        return per.get(text, [])
    return run


def make_korean_pii():
    import korean_pii
    T = {"phone": "phone", "rrn": ("rrn", "frn"), "card": "card", "account": "account", "email": "email"}

    def run(text):
        return [(d.start, d.end, m(d.type, T), d.type, d.value) for d in korean_pii.detect(text)]
    return run


def make_kpii():
    from kpii import KoreanPIIDetector
    det = KoreanPIIDetector()
    T = {"rrn": ("rrn", "frn"), "phone": "phone", "email": "email", "credit_card": "card"}

    def run(text):
        out = []
        for typ, items in det.detect(text).items():
            for it in items:
                out.append((it["start"], it["end"], m(typ, T), typ, it["value"]))
        return out
    return run


def make_rust_pii():
    import rust_pii_transformer as rpit
    T = {"resident": "rrn", "foreigner_registration": "frn", "credit_card": "card",
         "bank_account": "account", "phone": "phone", "email": "email"}

    def run(text):
        return [(f.source.char_start, f.source.char_end, m(f.entity, T), f.entity, f.text(text))
                for f in rpit.detect(text).findings]
    return run


def make_leakgate():
    from leakgate.detectors.kr_pii import KoreanPiiDetector
    det = KoreanPiiDetector()
    T = {"kr-rrn": ("rrn", "frn"), "kr-mobile": "phone", "kr-landline": "phone", "email": "email",
         "payment-card": "card", "bank-account": "account", "kr-address": "address",
         "kr-name-title": "name", "kr-name-labeled": "name", "kr-vehicle-plate": "plate"}

    def run(text):
        return [(f.start, f.end, m(f.rule, T), f.rule, f.value) for f in det.scan(text)]
    return run


def make_maskingtape():
    from maskingtape import Pipeline
    p = Pipeline()  # rule detectors only; the LLM name detector needs a local Ollama
    T = {"phone": "phone", "rrn": ("rrn", "frn"), "card": "card", "account": "account",
         "email": "email", "address": "address", "name": "name"}

    def run(text):
        return [(d.start, d.end, m(d.kind, T), d.kind, d.text) for d in p.scan(text)]
    return run


def make_privyscope():
    from privyscope_ko import Privyscope
    eng = Privyscope.regex_only(lang="ko")  # NER stage needs an ONNX download: skipped
    T = {"PHONE": "phone", "ID_NUM": ("rrn", "frn"), "EMAIL": "email", "BANK": ("account", "card"),
         "LOC": "address", "PER": "name"}

    def run(text):
        return [(s.start, s.end, m(s.label, T), s.label, s.text) for s in eng.redact(text).detected_spans]
    return run


def make_aigis():
    from aigis.filters.patterns import KOREAN_PII_PATTERNS, PII_INPUT_PATTERNS
    pats = {p.id: p for p in list(PII_INPUT_PATTERNS) + list(KOREAN_PII_PATTERNS) if p.enabled}
    T = {"pii_ko_rrn": "rrn", "pii_ko_foreign_reg": "frn", "pii_ko_card_bin": "card",
         "pii_credit_card_input": "card", "pii_ko_bank_account": "account", "pii_ko_vehicle": "plate",
         "pii_ko_phone": "phone", "pii_email_input": "email"}

    def run(text):
        out = []
        for pid, p in pats.items():
            for mt in p.pattern.finditer(text):
                if mt.end() > mt.start():
                    out.append((mt.start(), mt.end(), m(pid, T), pid, mt.group(0)))
        return out
    return run


def make_ko_pii_guard():
    from ko_pii_guard import KoreanPIIGuard
    g = KoreanPIIGuard()
    T = {"KR_RRN": "rrn", "KR_FRN": "frn", "PHONE_NUMBER": "phone", "EMAIL_ADDRESS": "email",
         "CREDIT_CARD": "card", "KR_ACCOUNT": "account"}

    def run(text):
        return [(f.start, f.end, m(f.entity, T), f.entity, f.text) for f in g.analyze(text)]
    return run


def make_presidio():
    """Vanilla Presidio, no spaCy model: NoOpNlpEngine + the predefined 'en' registry
    (regex/checksum recognizers; the spaCy NER recognizer is dropped) + Presidio's own
    (default-disabled) Korean recognizers enabled."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (KrBrnRecognizer, KrDriverLicenseRecognizer,
                                                          KrFrnRecognizer, KrPassportRecognizer,
                                                          KrRrnRecognizer)
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    nlp.load()
    reg = RecognizerRegistry(supported_languages=["en"])
    reg.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    for cls in (KrRrnRecognizer, KrFrnRecognizer, KrBrnRecognizer, KrDriverLicenseRecognizer,
                KrPassportRecognizer):
        reg.add_recognizer(cls(supported_language="en"))
    eng = AnalyzerEngine(registry=reg, nlp_engine=nlp, supported_languages=["en"])
    T = {"KR_RRN": "rrn", "KR_FRN": "frn", "PHONE_NUMBER": "phone", "EMAIL_ADDRESS": "email",
         "CREDIT_CARD": "card", "URL": "url", "PERSON": "name", "LOCATION": "address"}

    def run(text):
        return [(r.start, r.end, m(r.entity_type, T), r.entity_type, text[r.start:r.end])
                for r in eng.analyze(text=text, language="en", score_threshold=0.4)]
    return run


CANDIDATES = {
    "ko-pii": make_ko_pii,
    "ko-pii(Anonymizer STRICT)": make_ko_pii_anonymizer,
    "ko-pii(doc mode)": make_ko_pii_doc,
    "korean-pii": make_korean_pii,
    "kpii": make_kpii,
    "rust-pii-transformer": make_rust_pii,
    "leakgate": make_leakgate,
    "maskingtape": make_maskingtape,
    "privyscope-ko(regex_only)": make_privyscope,
    "pyaigis-kr(patterns)": make_aigis,
    "ko-pii-guard": make_ko_pii_guard,
    "presidio(noop-nlp,baseline)": make_presidio,
}


# ---------------------------------------------------------------- scoring
def overlaps(a0, a1, b0, b1):
    return a0 < b1 and b0 < a1


def score(rows, run):
    lab_tot = defaultdict(int); lab_hit = defaultdict(int)
    det_tot = defaultdict(int); det_hit = defaultdict(int)
    ag_lab_hit = 0; ag_lab_tot = 0; ag_det_hit = 0; ag_det_tot = 0
    clean_changed_any = 0; clean_changed_kinds = 0; clean_lines = 0
    misses = defaultdict(list); fps = []; t0 = time.perf_counter()
    for r in rows:
        text, spans = r["text"], r["spans"]
        dets = [d for d in run(text) if d[1] > d[0]]
        if not spans:
            clean_lines += 1
            if dets:
                clean_changed_any += 1
            if any(d[2] != {"other"} for d in dets):
                clean_changed_kinds += 1
        for s in spans:
            lab_tot[s["kind"]] += 1; ag_lab_tot += 1
            ov = [d for d in dets if overlaps(d[0], d[1], s["start"], s["end"])]
            if ov:
                ag_lab_hit += 1
            if any(s["kind"] in d[2] for d in ov):
                lab_hit[s["kind"]] += 1
            else:
                got = ",".join(f"{d[3]}:{d[4]}" for d in ov) or "-"
                misses[s["kind"]].append(f"{text[s['start']:s['end']]!r} in {text!r} (got {got})")
        for d in dets:
            ov = [s for s in spans if overlaps(d[0], d[1], s["start"], s["end"])]
            ag_det_tot += 1
            if ov:
                ag_det_hit += 1
            typed = [s for s in ov if s["kind"] in d[2]]
            if d[2] == {"other"}:
                if not ov:
                    fps.append(f"[{d[3]}] {d[4]!r} in {text!r}")
                continue
            kind = typed[0]["kind"] if typed else sorted(d[2])[0]
            det_tot[kind] += 1
            if typed:
                det_hit[kind] += 1
            else:
                fps.append(f"[{d[3]}] {d[4]!r} in {text!r}" + (f" (overlaps {ov[0]['kind']})" if ov else ""))
    per = {}
    for k in KINDS:
        per[k] = {
            "labelled": lab_tot[k], "recall": round(lab_hit[k] / lab_tot[k], 3) if lab_tot[k] else None,
            "detected": det_tot[k], "precision": round(det_hit[k] / det_tot[k], 3) if det_tot[k] else None,
        }
    typed_p = sum(det_hit.values()) / sum(det_tot.values()) if sum(det_tot.values()) else None
    typed_r = sum(lab_hit.values()) / ag_lab_tot
    return {
        "per_kind": per,
        "overall_typed": {"precision": round(typed_p, 3) if typed_p is not None else None,
                          "recall": round(typed_r, 3)},
        "overall_kind_agnostic": {"precision": round(ag_det_hit / ag_det_tot, 3) if ag_det_tot else None,
                                  "recall": round(ag_lab_hit / ag_lab_tot, 3)},
        "clean_lines": clean_lines,
        "clean_lines_changed_any_label": clean_changed_any,
        "clean_lines_changed_our_kinds": clean_changed_kinds,
        "seconds": round(time.perf_counter() - t0, 3),
        "false_positives": fps,
        "misses": dict(misses),
    }


def main():
    rows = [json.loads(l) for l in (HERE / "labelled.jsonl").read_text(encoding="utf-8").splitlines() if l.strip()]
    results = {"dataset": {"lines": len(rows), "clean_lines": sum(1 for r in rows if not r["spans"]),
                           "spans": sum(len(r["spans"]) for r in rows)}, "candidates": {}}
    only = os.environ.get("ONLY")
    for name, make in CANDIDATES.items():
        if only and only not in name:
            continue
        try:
            run = make()
            run("워밍업 010-0000-0000")
            results["candidates"][name] = score(rows, run)
        except Exception as e:  # noqa: BLE001
            results["candidates"][name] = {"error": f"{type(e).__name__}: {e}",
                                           "trace": traceback.format_exc()[-1500:]}
    (HERE / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    # compact table
    hdr = "candidate".ljust(30) + "".join(k[:7].rjust(12) for k in KINDS) + "   typedP/R  anyP/R  clean(any/ours)"
    print(hdr)
    for name, r in results["candidates"].items():
        if "error" in r:
            print(name.ljust(30), "ERROR", r["error"]); continue
        cells = ""
        for k in KINDS:
            p, rc = r["per_kind"][k]["precision"], r["per_kind"][k]["recall"]
            cells += (f"{'-' if p is None else f'{p:.2f}'}/{rc:.2f}").rjust(12)
        o, a = r["overall_typed"], r["overall_kind_agnostic"]
        print(name.ljust(30) + cells + f"   {o['precision']}/{o['recall']}  {a['precision']}/{a['recall']}"
              f"  {r['clean_lines_changed_any_label']}/{r['clean_lines_changed_our_kinds']}")


if __name__ == "__main__":
    main()
