"""Runs one of llama.cpp's converters (`hf`: convert_hf_to_gguf.py, `lora`: convert_lora_to_gguf.py)
from the copy scripts/setup.sh placed in .venv/share/llama.cpp, with one addition: a tokenizer that
this project trained with Llama-3's split regex (the demo's) is named llama.cpp's `llama-bpe`
pre-tokenizer. llama.cpp recognises pre-tokenizers by a hash of known vocabularies, so a new
vocabulary with Llama-3's rules is otherwise refused; the export verifies that llama.cpp then
tokenizes exactly as the Hugging Face tokenizer does.

    python -m inference.convert_gguf hf|lora CONVERTER_ARGS...
"""
from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

CONVERTERS = Path(sys.prefix) / "share" / "llama.cpp"
SCRIPTS = {"hf": "convert_hf_to_gguf.py", "lora": "convert_lora_to_gguf.py"}


def uses_llama3_split(model_dir: Path) -> bool:
    from models.demo import LLAMA3_SPLIT

    tokenizer_json = Path(model_dir) / "tokenizer.json"
    if not tokenizer_json.is_file():
        return False
    pre_tokenizer = json.loads(tokenizer_json.read_text(encoding="utf-8")).get("pre_tokenizer") or {}
    steps = pre_tokenizer.get("pretokenizers", [pre_tokenizer])
    return any(step.get("type") == "Split" and (step.get("pattern") or {}).get("Regex") == LLAMA3_SPLIT
               for step in steps)


def _name_llama3_style_tokenizers() -> None:
    from conversion.base import TextModel

    recognise = TextModel.get_vocab_base_pre

    def get_vocab_base_pre(self, tokenizer) -> str:
        try:
            return recognise(self, tokenizer)
        except NotImplementedError:
            if uses_llama3_split(self.dir_model):
                return "llama-bpe"
            raise

    TextModel.get_vocab_base_pre = get_vocab_base_pre


def main(argv: list[str]) -> None:
    kind, converter_args = argv[0], argv[1:]
    script = CONVERTERS / SCRIPTS[kind]
    if not script.is_file():
        from core.i18n import Text, env_lang, text_in

        sys.exit(text_in(Text(f"llama.cpp's converter is missing ({script}): run scripts/setup.sh",
                              f"llama.cpp 변환기가 없습니다 ({script}). scripts/setup.sh를 실행하세요."), env_lang()))
    sys.path[:0] = [str(CONVERTERS), str(CONVERTERS / "gguf-py")]
    _name_llama3_style_tokenizers()
    sys.argv = [str(script), *converter_args]
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
