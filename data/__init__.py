"""Turning chat logs (AI Hub JSON, KakaoTalk exports, generic JSON/JSONL) into training data.

The public entry point is `data.prepare.prepare(PrepareConfig)`; the CLI (`python -m data.prepare`),
the Dataset tab and the tests all call it.
"""
