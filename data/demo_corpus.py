"""The corpus the offline demo model is built from (`models/demo_corpus.json`): the bundled sample as
data preparation reads, masks and labels it. The models layer sits below data/ and reads the file;
this writes it, and a test checks that it is in step with the sample.

    python -m data.demo_corpus        (rewrites models/demo_corpus.json)
"""
from __future__ import annotations

import json
import sys

from core import fileio
from data.bundled import SAMPLE_DIR
from data.prepare import PrepareConfig, labelled_conversations
from models.demo import CORPUS


def render_corpus() -> dict:
    """labelled_lines: every utterance with its speaker label, in both speaker styles (the tokenizer's
    corpus); plain_texts: each conversation's utterances on their own lines, unlabelled (pre-training)."""
    by_style = {style: list(labelled_conversations(PrepareConfig(inputs=[str(SAMPLE_DIR)], speakers=style)))
                for style in ("blog", "numbered")}
    return {
        "labelled_lines": [line.render() for style in ("blog", "numbered") for lines in by_style[style]
                           for line in lines],
        "plain_texts": ["\n".join(line.content for line in lines) for lines in by_style["blog"]],
    }


def corpus_text(corpus: dict) -> str:
    """One entry per line, so that a change to the sample reads as a small diff."""
    parts = [f"  {json.dumps(key)}: [\n" + ",\n".join(f"    {json.dumps(item, ensure_ascii=False)}" for item in items)
             + "\n  ]" for key, items in corpus.items()]
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main() -> int:
    fileio.write_text(CORPUS, corpus_text(render_corpus()))
    print(f"wrote {CORPUS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
