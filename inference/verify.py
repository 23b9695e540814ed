"""Proof that a GGUF file is the trained model: llama.cpp's tokens and next-token logits on fixed
prompts against the merged Hugging Face model's, with thresholds per file kind."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from inference import llama

VERIFY_PROMPTS = [
    "user: 오늘 점심 뭐 먹을래?\nbot:",
    "user: 주말에 시간 있어?\nbot: 응 토요일은 괜찮아\nuser: 그럼 영화 보러 갈래?\nbot:",
    "user1: 다들 퇴근했어?\nuser2: 나 아직 회사ㅠㅠ\nbot:",
]
GREEDY_TOKENS = 16
# A file passes when, over every prompt position, its top token agrees with the Hugging Face model's
# at least this often, and (f16 only) the last position's logits differ by at most max_abs_diff.
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

    def __init__(self, merged_dir: Path, prompts: list[str] = VERIFY_PROMPTS):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(merged_dir)
        model = AutoModelForCausalLM.from_pretrained(merged_dir, dtype="auto", use_safetensors=True)
        model.eval()
        self.prompts = prompts
        self.ids = [tokenizer(prompt)["input_ids"] for prompt in prompts]
        with torch.no_grad():
            self.logits = [model(torch.tensor([ids])).logits[0].float().numpy() for ids in self.ids]
            self.greedy = [_until_eos(model.generate(torch.tensor([ids]), max_new_tokens=GREEDY_TOKENS, do_sample=False,
                                                     pad_token_id=tokenizer.pad_token_id)[0][len(ids):].tolist(),
                                      tokenizer.eos_token_id) for ids in self.ids]


def verify(gguf_path: Path, kind: str, reference: Reference, lora_path: Path | None = None) -> dict:
    agree = positions = 0
    max_abs_diff, tokenization_match, greedy_match = 0.0, True, True
    with llama.load(gguf_path, n_ctx=512, logits_all=True, lora_path=lora_path) as llm:
        for prompt, ids, expected, greedy in zip(reference.prompts, reference.ids, reference.logits, reference.greedy):
            tokenization_match &= llm.tokenize(prompt.encode(), add_bos=True, special=True) == ids
            llm.reset()
            llm.eval(ids)
            got = np.array(llm.scores[:len(ids)])
            agree += int((got.argmax(-1) == expected.argmax(-1)).sum())
            positions += len(ids)
            max_abs_diff = max(max_abs_diff, float(np.abs(got[-1] - expected[-1]).max()))
            greedy_match &= greedy_tokens(llm, ids) == greedy
    threshold = THRESHOLDS[kind]
    top1 = agree / positions
    passed = tokenization_match and top1 >= threshold["top1_agreement"] and max_abs_diff <= threshold.get(
        "max_abs_diff", float("inf"))
    return {"passed": bool(passed), "top1_agreement": round(top1, 4), "max_abs_diff_last": round(max_abs_diff, 5),
            "tokenization_match": bool(tokenization_match), "greedy_match": bool(greedy_match),
            "thresholds": threshold, "prompts": len(reference.prompts)}


def greedy_tokens(llm, ids: list[int], limit: int = GREEDY_TOKENS) -> list[int]:
    """llama.cpp's greedy continuation, up to `limit` tokens or its end-of-sequence token."""
    generated = []
    for token in llm.generate(ids, temp=0.0, top_k=1, reset=True):
        if token == llm.token_eos() or len(generated) == limit:
            break
        generated.append(token)
    return generated


def _until_eos(tokens: list[int], eos_id: int) -> list[int]:
    return tokens[:tokens.index(eos_id)] if eos_id in tokens else tokens
