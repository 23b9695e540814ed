"""A user who wants another family than Llama, in a real browser (English page): the Train tab lists the
presets with size, licence, fit and backend; the user types a local folder holding a tiny Qwen2 model
(as a downloaded Qwen would be) into the base-model picker, trains it, exports it (verified) and chats
with it. Screenshots go to test-artifacts/families/."""
from __future__ import annotations

import pytest

from tests.app_server import launch_chromium, running_demo_app
from tests.conftest import ROOT
from tests.test_journey_browser import open_tab

playwright_api = pytest.importorskip("playwright.sync_api")
ARTIFACTS = ROOT / "test-artifacts" / "families"


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_train_export_and_chat_with_a_qwen_model_folder_in_a_browser(tmp_path, demo_model_dir, tiny_model):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    model_dir = tiny_model("qwen2")
    with running_demo_app(tmp_path / "workspace", demo_model_dir) as url, \
            playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="en-US")
        page.set_default_timeout(60_000)
        page.goto(url)

        open_tab(page, "Train · 학습")
        train_tab = page.locator("#tab-train")
        train_tab.get_by_text("Base models: size, licence, fit, backend").click()
        presets = page.locator("#presets")
        for shown in ("EleutherAI/polyglot-ko-12.8b", "LGAI-EXAONE/EXAONE-4.0-1.2B", "Apache-2.0",
                      "EXAONE AI Model License 1.2 (non-commercial)", "Gemma Terms of Use (gated: needs a token)",
                      "CPU: trains, slowly", "needs an NVIDIA GPU", "transformers + PEFT"):
            presets.get_by_text(shown).first.wait_for(state="attached", timeout=30_000)
        shot(page, "1-presets")

        base = train_tab.get_by_label("Base model", exact=True)
        base.click()
        base.fill(str(model_dir))
        base.press("Enter")
        train_tab.get_by_label("Max steps (-1: run the epochs)").fill("6")
        train_tab.get_by_text("Advanced (defaults: the blog post's recipe)").click()
        train_tab.get_by_label("Max length", exact=True).fill("256")
        run_name = train_tab.get_by_label("Run name").input_value()
        train_tab.get_by_role("button", name="Start", exact=True).click()
        page.wait_for_selector("#tab-train .run-progress[data-state='completed']", timeout=300_000)
        # The log names the family and the LoRA targets it chose for it.
        page.wait_for_function("() => document.querySelector('#tab-train').innerText.includes("
                               "'Qwen 2 model, LoRA on q_proj, k_proj')")
        shot(page, "2-trained")

        open_tab(page, "Export · 내보내기")
        export_tab = page.locator("#tab-export")
        box = export_tab.get_by_label("Run", exact=True)
        box.click()
        box.fill(run_name)
        page.get_by_role("option", name=run_name, exact=True).first.click()
        for kind in ("f16", "q8_0"):
            export_tab.get_by_label(kind, exact=True).uncheck()
        export_tab.get_by_role("button", name="Export", exact=True).click()
        export_tab.get_by_text("all files verified").wait_for(timeout=300_000)
        shot(page, "3-exported")

        open_tab(page, "Chat · 대화")
        page.get_by_role("tab", name="Compare · 비교").click()
        expected = f"{run_name}-final · q4_k_m"
        page.wait_for_function(
            f"() => [...document.querySelectorAll('#tab-chat input')].some(i => i.value === {expected!r})")
        # A fixed seed: a ten-step tiny model may end its turn at once for some seeds
        page.locator("#tab-chat").get_by_text("Generation settings").first.click()
        page.locator("#tab-chat").get_by_label("Seed (-1: random)").fill("7")
        message = page.locator("#compare-message textarea")
        message.fill("주말에 뭐 할 거야?")
        message.press("Enter")
        try:  # A: the Qwen base (its GGUF), B: the fine-tune; both finish (a base may end its turn at once)
            page.wait_for_function("() => ['#stats-a', '#stats-b'].every(id => "
                                   "document.querySelector(id).innerText.includes('tok/s'))", timeout=120_000)
            page.locator("#chat-b .message-row.bot-row").first.wait_for()
        finally:
            shot(page, "4-compare")
        browser.close()
