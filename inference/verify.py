"""Proof that a GGUF file is the trained model: llama.cpp's tokens and next-token logits on fixed
prompts (in the model's own prompt format) against the merged Hugging Face model's, with thresholds
per file kind."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.artifacts import PromptContract, Verification
from data.chat_format import ChatTemplate, encode_prompt, verification_prompts
from inference import llama

GREEDY_TOKENS = 16
# A file passes when, over every prompt position, its top token agrees with the Hugging Face model's
# at least this often, and (f16 only) the last position's logits differ by at most max_abs_diff.
# The reference runs in float32: a bf16 forward pass rounds every activation and alone moved the
# logits of a random Llama-3-8B-shape model by 0.36 against its f16 GGUF (docs/benchmarks.md).
THRESHOLDS = {
    "f16": {"top1_agreement": 0.99, "max_abs_diff": 0.05},
    "q8_0": {"top1_agreement": 0.90},
    "q6_k": {"top1_agreement": 0.85},
    "q5_k_m": {"top1_agreement": 0.80},
    "q4_k_m": {"top1_agreement": 0.75},
    "lora": {"top1_agreement": 0.99, "max_abs_diff": 0.05},
}


class Reference:
    """The merged Hugging Face model's answers to the verification prompts, computed once."""

    def __init__(self, merged_dir: Path, contract: PromptContract):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(merged_dir)
        self.contract = contract
        prompts = verification_prompts(contract, ChatTemplate.of_tokenizer(tokenizer))
        self.device = reference_device(merged_dir)
        placement = {"device_map": {"": "cuda"}} if self.device == "cuda" else {}
        model = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32, use_safetensors=True, **placement)
        model.eval()
        self.prompts = prompts
        self.ids = [encode_prompt(prompt, tokenizer, contract) for prompt in prompts]
        with torch.no_grad():
            inputs = [torch.tensor([ids], device=self.device) for ids in self.ids]
            self.logits = [model(batch).logits[0].float().cpu().numpy() for batch in inputs]
            self.greedy = [_until_eos(model.generate(batch, max_new_tokens=GREEDY_TOKENS, do_sample=False,
                                                     pad_token_id=tokenizer.pad_token_id)[0][len(ids):].tolist(),
                                      tokenizer.eos_token_id) for batch, ids in zip(inputs, self.ids)]
        del model


def reference_device(merged_dir: Path) -> str:
    """Where the float32 reference fits: the GPU when it has room (an 8B model needs 32 GB), else
    the CPU; refused when neither has room for it."""
    import torch

    from core.errors import UserError
    from core.ram import meminfo

    weights = sum(path.stat().st_size for path in Path(merged_dir).glob("*.safetensors"))
    config = json.loads((Path(merged_dir) / "config.json").read_text(encoding="utf-8"))
    saved_bytes = 4 if str(config.get("torch_dtype") or config.get("dtype") or "float32") == "float32" else 2
    need = weights * 4 // saved_bytes * 1.1
    if torch.cuda.is_available() and torch.cuda.mem_get_info()[0] > need:
        return "cuda"
    if meminfo("MemAvailable") > need:
        return "cpu"
    raise UserError(f"Verifying needs the merged model in float32 (about {need / 1e9:.0f} GB of memory) and this "
                    "machine has less free; export on a machine with more memory, or close other programs.",
                    ko=f"검증에는 병합된 모델을 float32로 올릴 메모리(약 {need / 1e9:.0f} GB)가 필요한데 이 컴퓨터의 남은 "
                       "메모리가 그보다 적습니다. 메모리가 더 큰 컴퓨터에서 내보내거나 다른 프로그램을 닫으세요.")


def verify(gguf_path: Path, kind: str, reference: Reference, lora_path: Path | None = None) -> Verification:
    agree = positions = 0
    max_abs_diff, tokenization_match, greedy_match = 0.0, True, True
    with llama.load(gguf_path, n_ctx=512, logits_all=True, lora_path=lora_path) as llm:
        for prompt, ids, expected, greedy in zip(reference.prompts, reference.ids, reference.logits, reference.greedy):
            tokenization_match &= llama.encode(llm, prompt, reference.contract) == ids
            top, last_logits = llm.top_tokens(ids)
            agree += int((top == expected.argmax(-1)).sum())
            positions += len(ids)
            max_abs_diff = max(max_abs_diff, float(np.abs(last_logits - expected[-1]).max()))
            greedy_match &= llm.greedy(ids, GREEDY_TOKENS) == greedy
    threshold = THRESHOLDS[kind]
    top1 = agree / positions
    passed = tokenization_match and top1 >= threshold["top1_agreement"] and max_abs_diff <= threshold.get(
        "max_abs_diff", float("inf"))
    return Verification(passed=bool(passed), top1_agreement=round(top1, 4), max_abs_diff_last=round(max_abs_diff, 5),
                        tokenization_match=bool(tokenization_match), greedy_match=bool(greedy_match),
                        thresholds=threshold, prompts=len(reference.prompts), reference=f"float32 on {reference.device}")


def _until_eos(tokens: list[int], eos_id: int) -> list[int]:
    return tokens[:tokens.index(eos_id)] if eos_id in tokens else tokens
