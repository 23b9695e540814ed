"""The training config: the blog post's recipe as defaults, machine-dependent choices, memory estimate."""
from __future__ import annotations

import pytest

from core.errors import UserError
from models.families import family_of_type
from tuning.config import Hardware, TrainConfig, recipe, resolve
from tuning.memory import (CUDA_CONTEXT_GIB, LLAMA3_8B, estimate_training_gib, layers_to_leave_unchecked,
                           longest_fitting_length, memory_advice, planned_memory_fraction, shape_of)
from tuning.plan import choose_batch_size, plan_training, unchecked_layers

CPU = Hardware(cuda=False)
RTX_4090 = Hardware(cuda=True, gpu_name="NVIDIA GeForce RTX 4090", gpu_memory_gib=24.0, bf16_supported=True,
                    unsloth_importable=True)
H200 = Hardware(cuda=True, gpu_name="NVIDIA H200", gpu_memory_gib=139.8, bf16_supported=True, unsloth_importable=True)
SMALL_GPU = Hardware(cuda=True, gpu_name="small", gpu_memory_gib=8.0, bf16_supported=True, unsloth_importable=False)


def test_defaults_are_the_blog_posts_recipe():
    config = recipe("seed_qlora", dataset="d")
    assert config.base_model == "beomi/Llama-3-Open-Ko-8B"
    assert (config.lora_r, config.lora_alpha, config.lora_dropout, config.lora_bias) == (16, 32, 0.0, "none")
    assert config.target_modules == ["all"]  # every projection of the family: for Llama, all seven
    assert resolve(config, CPU, family_of_type("llama")).target_modules == [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert (config.max_length, config.batch_size, config.gradient_accumulation_steps) == (1024, 2, 4)
    assert (config.warmup_steps, config.logging_steps) == (10, 10)


def test_on_a_gpu_auto_means_unsloth_4bit_bf16_adamw_8bit():
    config = resolve(TrainConfig(dataset="d"), RTX_4090)
    assert (config.backend, config.load_in_4bit, config.bf16, config.optim) == ("unsloth", True, True, "adamw_8bit")
    assert resolve(TrainConfig(dataset="d"), SMALL_GPU).backend == "hf"


def test_on_a_cpu_auto_means_transformers_16bit_adamw_torch():
    config = resolve(TrainConfig(dataset="d"), CPU)
    assert (config.backend, config.load_in_4bit, config.bf16, config.optim) == ("hf", False, False, "adamw_torch")


@pytest.mark.parametrize("values, message", [
    ({"bf16": True}, "bf16 is not supported here"),
    ({"load_in_4bit": True}, "4-bit loading (QLoRA) needs an NVIDIA GPU"),
])
def test_what_cannot_run_on_this_machine_is_refused_with_what_to_change(values, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve(TrainConfig(dataset="d", **values), CPU)


@pytest.mark.parametrize("batch, length, backend, measured, slack", [
    (2, 1024, "unsloth", 6.36, 0.6), (8, 1024, "unsloth", 7.38, 0.6), (1, 8192, "unsloth", 7.83, 0.6),
    (1, 32768, "unsloth", 14.02, 0.6), (1, 65536, "unsloth", 22.40, 0.6), (2, 32768, "unsloth", 22.41, 0.6),
    (2, 1024, "hf", 9.42, 0.15), (8, 1024, "hf", 14.84, 0.15)])
def test_the_memory_estimate_follows_the_measured_8b_figures(batch, length, backend, measured, slack):
    """Measured on an H200 (docs/benchmarks.md); the estimate may be generous, never short by over 0.15 GiB."""
    estimate = estimate_training_gib(LLAMA3_8B, batch, length, True, backend) - CUDA_CONTEXT_GIB
    assert measured - 0.15 <= estimate <= measured + slack


@pytest.mark.parametrize("batch, unchecked, measured", [(1, 32, 9.78), (2, 32, 13.55), (4, 32, 20.86), (8, 14, 19.79)])
def test_the_estimate_with_layers_left_unchecked_follows_the_measured_8b_figures(batch, unchecked, measured):
    """Unsloth, 4-bit, 1,024-token rows, measured on an H200 (bench/gpu_training.py sweep and run)."""
    estimate = estimate_training_gib(LLAMA3_8B, batch, 1024, True, "unsloth", unchecked) - CUDA_CONTEXT_GIB
    assert measured - 0.15 <= estimate <= measured + 1.0


def test_layers_skip_checkpointing_only_as_far_as_the_gpu_has_room():
    config = resolve(TrainConfig(dataset="d"), RTX_4090)
    skipped = unchecked_layers(config, RTX_4090, LLAMA3_8B, 8)
    assert 10 <= skipped < LLAMA3_8B.num_hidden_layers  # measured on the H200: 14 fit 22 GiB
    assert estimate_training_gib(LLAMA3_8B, 8, 1024, True, "unsloth", skipped) <= 24.0 * 0.9
    assert estimate_training_gib(LLAMA3_8B, 8, 1024, True, "unsloth", skipped + 1) > 24.0 * 0.9
    assert unchecked_layers(resolve(TrainConfig(dataset="d"), H200), H200, LLAMA3_8B, 8) == 32  # room for all
    planned = resolve(TrainConfig(dataset="d", plan_for_gpu_gib=24), H200)
    assert unchecked_layers(planned, H200, LLAMA3_8B, 8) == skipped  # an H200 planning for a 4090 gets the 4090's
    assert unchecked_layers(config.model_copy(update={"gradient_checkpointing": False}), RTX_4090, LLAMA3_8B, 8) == 0
    assert layers_to_leave_unchecked(LLAMA3_8B, 8, 1024, True, "hf", 21.6) == 0  # transformers keeps every layer's
    assert unchecked_layers(resolve(TrainConfig(dataset="d"), CPU), CPU, LLAMA3_8B, 8) == 0
    advice = memory_advice(LLAMA3_8B, 8, 1024, True, "unsloth", "NVIDIA GeForce RTX 4090", 24.0)
    assert f"{skipped} of 32 layers skip gradient checkpointing" in advice and f"{skipped}개는" in advice.ko


def test_memory_other_processes_hold_is_left_out_of_the_plan():
    config = resolve(TrainConfig(dataset="d"), H200)
    idle_4090 = RTX_4090.model_copy(update={"gpu_free_gib": 23.5})  # free after this process's context
    assert choose_batch_size(config, idle_4090, LLAMA3_8B) == choose_batch_size(config, RTX_4090, LLAMA3_8B)
    assert unchecked_layers(config, idle_4090, LLAMA3_8B, 8) == unchecked_layers(config, RTX_4090, LLAMA3_8B, 8)
    shared_h200 = H200.model_copy(update={"gpu_free_gib": 17.5})  # a chat model and others hold the rest
    skipped = unchecked_layers(config, shared_h200, LLAMA3_8B, 8)
    assert 0 < skipped < unchecked_layers(config, RTX_4090, LLAMA3_8B, 8)
    assert estimate_training_gib(LLAMA3_8B, 8, 1024, True, "unsloth", skipped) <= (17.5 + CUDA_CONTEXT_GIB) * 0.9
    crowded = H200.model_copy(update={"gpu_free_gib": 6.0})
    batch, accumulation = choose_batch_size(config, crowded, LLAMA3_8B)
    assert batch < 8 and batch * accumulation == 8 and unchecked_layers(config, crowded, LLAMA3_8B, batch) == 0


def test_planning_for_a_smaller_card_caps_the_allocator_at_what_that_card_leaves():
    fraction = planned_memory_fraction(24, H200.gpu_memory_gib)
    assert abs(fraction * H200.gpu_memory_gib - (24 - CUDA_CONTEXT_GIB)) < 1e-9
    assert planned_memory_fraction(None, H200.gpu_memory_gib) is None  # no plan: the whole GPU
    assert planned_memory_fraction(24, RTX_4090.gpu_memory_gib) is None  # already that card
    assert planned_memory_fraction(200, H200.gpu_memory_gib) is None  # a bigger plan holds nothing back
    assert planned_memory_fraction(24, None) is None  # no GPU


def test_the_longest_max_length_that_fits_24_gb_is_told():
    assert 55_000 <= longest_fitting_length(LLAMA3_8B, 1, True, "unsloth", 22.0) <= 65_536
    assert 27_000 <= longest_fitting_length(LLAMA3_8B, 2, True, "unsloth", 22.0) <= 32_768
    advice = memory_advice(LLAMA3_8B, 2, 1024, True, "unsloth", "NVIDIA GeForce RTX 4090", 24.0)
    assert "up to a max length of about" in advice and "최대 길이 약" in advice.ko


def test_auto_batch_keeps_the_effective_batch_and_fits_the_gpu():
    config = resolve(TrainConfig(dataset="d"), RTX_4090)
    assert choose_batch_size(config, RTX_4090, LLAMA3_8B) == (8, 1)
    hf_config = resolve(TrainConfig(dataset="d"), SMALL_GPU)
    batch, accumulation = choose_batch_size(hf_config, SMALL_GPU, LLAMA3_8B)
    assert batch * accumulation == 8 and batch < 8
    assert choose_batch_size(config.model_copy(update={"auto_batch_size": False}), RTX_4090, LLAMA3_8B) == (2, 4)
    assert choose_batch_size(resolve(TrainConfig(dataset="d"), CPU), CPU, LLAMA3_8B) == (8, 1)


def test_with_several_processes_the_batch_is_shared_and_the_gpus_counted():
    two_4090s = RTX_4090.model_copy(update={"gpu_count": 2})
    config = resolve(TrainConfig(dataset="d", processes=2), two_4090s)
    assert config.backend == "hf"  # Unsloth's DDP is untried here: asked for by name only
    assert resolve(TrainConfig(dataset="d", processes=2, backend="unsloth"), two_4090s).backend == "unsloth"
    assert choose_batch_size(config, two_4090s, LLAMA3_8B) == (4, 1)  # 8 rows a step in all, 4 on each GPU
    assert choose_batch_size(config.model_copy(update={"auto_batch_size": False}), two_4090s, LLAMA3_8B) == (2, 4)
    assert choose_batch_size(resolve(TrainConfig(dataset="d", processes=2), CPU), CPU, None) == (4, 1)
    assert choose_batch_size(TrainConfig(dataset="d", processes=3), two_4090s, None) == (2, 2)  # 3 × 2 × 2 ≥ 8
    assert TrainConfig(dataset="d", gpus=[1, 3]).processes == 2
    with pytest.raises(ValueError, match="one process a GPU"):
        TrainConfig(dataset="d", processes=3, gpus=[0, 1])
    with pytest.raises(UserError, match="need 3 GPUs .one each., and this machine has 2") as refused:
        resolve(TrainConfig(dataset="d", processes=3), two_4090s)
    assert refused.value.field == "processes"
    with pytest.raises(UserError, match="there is no GPU 2"):
        resolve(TrainConfig(dataset="d", gpus=[0, 2]), two_4090s)


def test_memory_advice_warns_when_it_will_not_fit():
    advice = memory_advice(LLAMA3_8B, 8, 1024, False, "hf", "small", 8.0)
    assert "will not fit small" in advice
    assert "Fits NVIDIA GeForce RTX 4090" in memory_advice(LLAMA3_8B, 2, 1024, True, "unsloth", "NVIDIA GeForce RTX 4090", 24.0)


def test_out_of_memory_and_full_disk_get_advice_not_a_traceback():
    import errno

    import torch

    from tuning.process import explain

    out_of_memory = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    advice = explain(out_of_memory)
    assert "ran out of memory" in advice and "Lower the batch size" in advice and "max length" in advice
    assert "every layer" not in advice  # nothing left to checkpoint: no promise that a retry helps
    assert "tries again by itself with every layer checkpointed" in explain(out_of_memory, unchecked_layers=14)
    assert "disk is full" in explain(OSError(errno.ENOSPC, "No space left on device"))


def test_after_running_out_of_gpu_memory_a_resume_checkpoints_every_layer(tmp_path):
    import os

    import torch

    from core.runs import RunDir
    from tuning.process import fail_from

    config = resolve(TrainConfig(dataset="d"), RTX_4090)
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    planned = plan_training(config, RTX_4090, LLAMA3_8B).unchecked_layers
    assert planned > 0
    run.write_status("running", pid=os.getpid(), unchecked_layers=planned)  # as the training process writes it
    assert fail_from(run, torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")) == 1
    status = run.status()
    assert status.state == "failed" and status.checkpoint_every_layer is True
    assert "모든 층에 그래디언트 체크포인팅" in status.error_ko
    run.write_status("running", pid=os.getpid(), step=40)  # what a resume writes first: the flag stays
    assert run.status().checkpoint_every_layer
    assert plan_training(config, RTX_4090, LLAMA3_8B, every_layer_checkpointed=True).unchecked_layers == 0
    other = RunDir(tmp_path / "other")
    other.path.mkdir()
    fail_from(other, ValueError("something else"))
    assert other.status().checkpoint_every_layer is False


def test_the_demo_models_shape_is_known_before_it_is_built(demo_model_dir, tmp_path):
    """A fresh workspace's Train tab can estimate the demo's memory before its first run builds it."""
    assert shape_of("demo", tmp_path / "not-built-yet") == shape_of("demo", demo_model_dir)


def test_every_presets_own_shape_is_judged_for_the_gpu_found():
    """The memory estimate, the fit and the backend use each family's shape (GQA or not, head sizes,
    two- or three-matrix MLPs, tied embeddings, vocabulary), not Llama's."""
    from models.presets import PRESETS, preset
    from tuning.choices import judged_presets

    for item in PRESETS:
        if item.shape is not None:  # the parameter count of the shape is the model card's size
            assert abs(item.shape.parameters / 1e9 - item.billions) / item.billions < 0.05, item.model_id
    on_4090 = {choice.preset.model_id: choice for choice in judged_presets(RTX_4090)}
    assert on_4090["beomi/Llama-3-Open-Ko-8B"].fits and str(on_4090["beomi/Llama-3-Open-Ko-8B"].backend) == "Unsloth"
    assert on_4090["EleutherAI/polyglot-ko-12.8b"].fits  # 4-bit, as the blog's author wished: polyglot on one 4090
    assert on_4090["kakaocorp/kanana-1.5-2.1b-instruct-2505"].fits is None  # its shape comes with its download
    assert str(on_4090["google/gemma-3-1b-it"].backend) == "Unsloth"  # every family: run with Unsloth on the H200
    small = {choice.preset.model_id: choice for choice in judged_presets(SMALL_GPU)}
    assert str(small["google/gemma-3-1b-it"].backend) == "transformers + PEFT (Unsloth is not installed)"
    assert not small["EleutherAI/polyglot-ko-12.8b"].fits and small["Qwen/Qwen2.5-1.5B-Instruct"].fits
    on_cpu = {choice.preset.model_id: choice for choice in judged_presets(CPU)}
    assert on_cpu["LGAI-EXAONE/EXAONE-4.0-1.2B"].fits and not on_cpu["EleutherAI/polyglot-ko-5.8b"].fits
    gemma = preset("google/gemma-3-1b-it").shape
    assert estimate_training_gib(gemma, 8, 1024, False, "hf") > estimate_training_gib(gemma, 8, 1024, False, "unsloth") + 5


def test_a_base_too_large_for_each_card_of_several_says_qlora_is_the_way():
    from tuning.plan import refuse_impossible

    two_small = SMALL_GPU.model_copy(update={"gpu_count": 2, "gpu_memory_gib": 12.0})
    config = TrainConfig(dataset="d", base_model="beomi/Llama-3-Open-Ko-8B", load_in_4bit=False, processes=2)
    with pytest.raises(UserError) as refused:
        refuse_impossible(config, two_small, LLAMA3_8B)
    assert refused.value.field == "load_in_4bit"
    assert "more than this GPU's 12 GiB: turn 4-bit on" in str(refused.value)
    assert "each process holds a whole copy (DDP)" in str(refused.value) and "(FSDP) is not offered" in str(refused.value)
    refuse_impossible(config.model_copy(update={"load_in_4bit": True}), two_small, LLAMA3_8B)  # QLoRA fits
