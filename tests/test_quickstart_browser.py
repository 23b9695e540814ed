"""The first five minutes (issue 19), in Chromium on a fresh workspace: the only click is "Try it
with the sample"; the page walks prepare → train → export by itself, opens Compare with the base and
the fine-tune, and one message there is answered in both panes. Screenshots: test-artifacts/quickstart/."""
from __future__ import annotations

import pytest

from tests.app_server import kill_training_processes, launch_chromium, running_demo_app
from tests.conftest import ROOT
from tests.test_journey_browser import wait_for_both_answers

playwright_api = pytest.importorskip("playwright.sync_api")
ARTIFACTS = ROOT / "test-artifacts" / "quickstart"


def test_try_it_with_the_sample_then_one_message_in_compare(tmp_path, demo_model_dir):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    workspace_dir = tmp_path / "workspace"
    with running_demo_app(workspace_dir, demo_model_dir) as url, playwright_api.sync_playwright() as playwright:
        try:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="en-US")
            page.set_default_timeout(60_000)
            page.goto(url)
            page.get_by_text("New here? Press 'Try it with the sample'").wait_for()
            page.screenshot(path=str(ARTIFACTS / "1-fresh.png"))
            page.locator("#try-sample").click()
            page.wait_for_selector("[data-quickstart='train']")
            page.get_by_text("Training try-sample: step").wait_for()
            page.get_by_text("No NVIDIA GPU: the offline demo model, trained on the CPU.").wait_for()  # says which, why
            page.screenshot(path=str(ARTIFACTS / "2-training.png"))
            page.wait_for_selector("[data-quickstart='export']", timeout=400_000)
            page.wait_for_selector("[data-quickstart='chat']", timeout=400_000)
            chat_tab = page.locator("#tab-chat")
            chat_tab.wait_for(state="visible")
            page.wait_for_function("() => [...document.querySelectorAll('#tab-chat input')]"
                                   ".some(i => i.value === 'try-sample-final · q4_k_m')")
            page.wait_for_function("() => [...document.querySelectorAll('#tab-chat input')]"
                                   ".some(i => i.value.startsWith('base · demo · f16 GGUF'))")
            box = page.locator("#compare-message textarea")
            box.fill("퇴근하고 뭐 할 거야?")
            box.press("Enter")
            wait_for_both_answers(page)
            page.screenshot(path=str(ARTIFACTS / "3-compare.png"), full_page=True)
            page.get_by_role("tab", name="Train · 학습").first.click()  # the run was listed and followed there
            page.wait_for_function("() => document.querySelector('#train-runs input')?.value === 'try-sample'")
            browser.close()
        finally:
            kill_training_processes(workspace_dir)
