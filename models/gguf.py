"""A model folder in GGUF: llama.cpp's own converters (`hf`: convert_hf_to_gguf.py, `lora`:
convert_lora_to_gguf.py) from the copy scripts/setup.sh placed in .venv/share/llama.cpp, and the check,
before any training, that a base model converts and that llama.cpp tokenizes it as Hugging Face does.

llama.cpp names a BPE tokenizer's pre-tokenizer (how text is split before merges) by a hash of the ids
a known vocabulary gives a test string, so a vocabulary it has never seen is refused even when its
splitting rules are ones llama.cpp implements (a Korean vocabulary trained with Llama-3's, Qwen2's or
GPT-2's rules). Such a tokenizer is named by its rules instead (PRE_TOKENIZER_RULES); the check, and
every export's verification, prove that llama.cpp then gives the same ids as Hugging Face.

    python -m models.gguf hf|lora CONVERTER_ARGS...
    python -m models.gguf check MODEL_DIR      (exit 0 when it converts and tokenizes the same; else the reason)
"""
from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

from core import fileio
from core.errors import UserError

# Where llama.cpp's converter scripts are: the copy setup.sh made, or a llama.cpp checkout of your own
CONVERTERS = Path(os.environ.get("TUNER_LLAMA_CONVERTERS") or Path(sys.prefix) / "share" / "llama.cpp")
SCRIPTS = {"hf": "convert_hf_to_gguf.py", "lora": "convert_lora_to_gguf.py"}
ROOT = Path(__file__).resolve().parent.parent

# Split rules in tokenizer.json -> the llama.cpp pre-tokenizer that splits text the same way.
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
PRE_TOKENIZER_RULES = {("split", LLAMA3_SPLIT): "llama-bpe", ("split", QWEN2_SPLIT): "qwen2",
                       ("byte-level", "gpt-2"): "gpt-2"}
# Prompts whose ids must be the same in llama.cpp and Hugging Face: Korean chat, line breaks, digits.
CHECK_TEXTS = ["user: 오늘 점심 뭐 먹을래?\nbot: 떡볶이 어때? ㅋㅋㅋ", "user1: 3시 30분에 2,500원짜리 커피 ㅎㅎ\n\nuser2: ㅇㅋ!!",
               "bot: 주말엔 집에서 쉬려고~ 너는?\nuser: 나도 🙂"]


def is_cuda_build() -> bool:
    """Whether the installed llama_cpp is a CUDA build, known without loading it."""
    import importlib.util

    found = importlib.util.find_spec("llama_cpp")
    folders = list(found.submodule_search_locations or []) if found else []
    return any(any(Path(folder).glob("lib/*ggml-cuda*")) for folder in folders)


def pre_tokenizer_rules(tokenizer_json: dict) -> tuple[str, str] | None:
    """How a tokenizer.json splits text before its merges, as a key of PRE_TOKENIZER_RULES."""
    pre = tokenizer_json.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [step.get("type") for step in steps]
    if kinds == ["Split", "ByteLevel"] and not steps[1].get("use_regex", True):
        return "split", (steps[0].get("pattern") or {}).get("Regex", "")
    if kinds[-1:] == ["ByteLevel"] and steps[-1].get("use_regex", True) and not steps[-1].get("add_prefix_space", False):
        # GPT-2's split, alone or after removing one literal character (polyglot-ko drops "ೱ", which
        # Korean chat never holds; the check and each export's verification compare the ids)
        if kinds == ["ByteLevel"] or (kinds == ["Split", "ByteLevel"] and steps[0].get("behavior") == "Removed"
                                      and "String" in (steps[0].get("pattern") or {})):
            return "byte-level", "gpt-2"
    return None


def rule_name(model_dir: Path) -> str | None:
    """The llama.cpp pre-tokenizer that splits text as this folder's tokenizer does, if one does."""
    tokenizer_json = Path(model_dir) / "tokenizer.json"
    if not tokenizer_json.is_file():
        return None
    return PRE_TOKENIZER_RULES.get(pre_tokenizer_rules(json.loads(tokenizer_json.read_text(encoding="utf-8"))))


def _name_tokenizers_by_their_rules() -> None:
    from conversion.base import TextModel

    recognise = TextModel.get_vocab_base_pre

    def get_vocab_base_pre(self, tokenizer) -> str:
        try:
            return recognise(self, tokenizer)
        except NotImplementedError:
            if name := rule_name(self.dir_model):
                return name
            raise

    TextModel.get_vocab_base_pre = get_vocab_base_pre


def _give_legacy_hyperparameters() -> None:
    """transformers 5 writes GPT-NeoX's rotary share as rope_parameters.partial_rotary_factor; the
    converter of this llama.cpp release still reads `rotary_pct` (a polyglot-ko merged by the export,
    or a tiny test model, would otherwise fail to convert)."""
    from conversion.base import ModelBase

    load = ModelBase.load_hparams

    def load_hparams(dir_model: Path, is_mistral_format: bool):
        hparams = load(dir_model, is_mistral_format)
        rope = hparams.get("rope_parameters") or {}
        if hparams.get("model_type") == "gpt_neox" and "rotary_pct" not in hparams:
            hparams["rotary_pct"] = rope.get("partial_rotary_factor", 1.0)
        return hparams

    ModelBase.load_hparams = staticmethod(load_hparams)


def _mark_special_added_tokens() -> None:
    """A SentencePiece vocabulary's added special tokens (Gemma's <start_of_turn>, …) are marked special
    in GGUF by the `added_tokens_decoder` of tokenizer_config.json, which transformers 5 no longer
    writes: read the same flags from tokenizer.json, where it keeps them. Otherwise llama.cpp reads
    them as text in a rendered chat template, and the export's verification fails on tokenization."""
    from conversion.base import SentencePieceTokenTypes, TextModel

    create = TextModel._create_vocab_sentencepiece

    def create_vocab_sentencepiece(self):
        tokens, scores, toktypes = create(self)
        tokenizer_json = self.dir_model / "tokenizer.json"
        if tokenizer_json.is_file():
            for added in json.loads(tokenizer_json.read_text(encoding="utf-8")).get("added_tokens", []):
                if added.get("special") and added["id"] < len(toktypes) and \
                        tokens[added["id"]] == added["content"].encode("utf-8"):
                    toktypes[added["id"]] = SentencePieceTokenTypes.CONTROL
        return tokens, scores, toktypes

    TextModel._create_vocab_sentencepiece = create_vocab_sentencepiece


def convert(kind: str, model_dir: Path, gguf_path: Path, extra: list[str] = ()) -> subprocess.CompletedProcess:
    """Runs a converter in a process of its own (f16); the caller reads returncode and stderr."""
    command = [sys.executable, "-m", "models.gguf", kind, str(model_dir), "--outfile", str(gguf_path),
               "--outtype", "f16", *extra]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def convert_file(model_dir: Path, gguf_path: Path, kind: str = "hf", extra: list[str] = ()) -> None:
    """The converter's f16 GGUF, written atomically at `gguf_path`; a failure is one error with its last lines."""
    with fileio.atomic_path(gguf_path) as tmp:
        result = convert(kind, model_dir, tmp, list(extra))
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-5:])
            raise UserError(f"llama.cpp's converter failed on {Path(model_dir).name}:\n{tail}",
                            ko=f"llama.cpp 변환기가 {Path(model_dir).name}을(를) 변환하지 못했습니다:\n{tail}")


class ToolsMissing(Exception):
    """llama.cpp's converter or llama-cpp-python is not installed here: nothing can be checked."""


def conversion_problem(model_dir: Path) -> str | None:
    """Why this model folder cannot become a GGUF that chats as it was trained; None when it can.
    Converts its vocabulary alone (seconds, no weights) and compares llama.cpp's ids on Korean chat
    text with Hugging Face's. ToolsMissing where llama.cpp is not installed (a bare GPU box)."""
    import importlib.util

    if not (CONVERTERS / SCRIPTS["hf"]).is_file() or importlib.util.find_spec("llama_cpp") is None:
        raise ToolsMissing(f"llama.cpp's converter ({CONVERTERS}) or llama-cpp-python is not installed")
    with tempfile.TemporaryDirectory(prefix="gguf-check-") as folder:
        vocab = Path(folder) / "vocab.gguf"
        result = convert("hf", Path(model_dir), vocab, ["--vocab-only"])
        if result.returncode != 0:
            return _converter_reason(result.stderr)
        return _tokenization_difference(Path(model_dir), vocab)


def checked_conversion(model_dir: Path, cache_file: Path) -> str | None:
    """conversion_problem(), remembered per model folder (its config and tokenizer files unchanged)."""
    key = f"{Path(model_dir).resolve()}:" + ",".join(
        f"{path.name}@{path.stat().st_mtime_ns}" for path in sorted(Path(model_dir).iterdir())
        if path.name in ("config.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json"))
    try:
        known = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if key not in known:
        known[key] = conversion_problem(model_dir)
        from core import fileio

        fileio.write_json(cache_file, known)
    return known[key]


def _converter_reason(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if "not supported" in line or "NotImplementedError" in line or "Error" in line:
            return line.split("Error: ", 1)[-1]
    return lines[-1] if lines else "llama.cpp's converter failed"


def _tokenization_difference(model_dir: Path, vocab_gguf: Path) -> str | None:
    from transformers import AutoTokenizer

    from models.llama_process import GgufProcess

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    llm = GgufProcess(vocab_gguf, vocab_only=True)
    try:
        for text in CHECK_TEXTS:
            expected = tokenizer(text, add_special_tokens=False)["input_ids"]
            got = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
            if got != expected:
                return (f"llama.cpp tokenizes Korean chat differently from the model's own tokenizer "
                        f"({len(got)} tokens against {len(expected)} for {text.splitlines()[0]!r}), so a GGUF of it "
                        "would not chat as it was trained")
    finally:
        llm.close()
    return None


def main(argv: list[str]) -> None:
    kind, rest = argv[0], argv[1:]
    if kind == "check":
        problem = conversion_problem(Path(rest[0]))
        print(problem or "ok")
        sys.exit(1 if problem else 0)
    script = CONVERTERS / SCRIPTS[kind]
    if not script.is_file():
        from core.i18n import Text, env_lang, text_in

        sys.exit(text_in(Text(f"llama.cpp's converter is missing ({script}): run scripts/setup.sh",
                              f"llama.cpp 변환기가 없습니다 ({script}). scripts/setup.sh를 실행하세요."), env_lang()))
    sys.path[:0] = [str(CONVERTERS), str(CONVERTERS / "gguf-py")]
    _name_tokenizers_by_their_rules()
    _give_legacy_hyperparameters()
    _mark_special_added_tokens()
    sys.argv = [str(script), *rest]
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
