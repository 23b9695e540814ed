"""The Dataset tab in Chromium with a KakaoTalk export holding personal information: the preview counts
what was masked, highlights each placeholder with its kind, and a kind unticked is kept. Screenshots
go to test-artifacts/privacy/."""
from __future__ import annotations

import pytest

from tests.app_server import launch_chromium, running_demo_app
from tests.conftest import ROOT
from tests.test_privacy import PLANTED, export

playwright_api = pytest.importorskip("playwright.sync_api")
ARTIFACTS = ROOT / "test-artifacts" / "privacy"


def test_the_preview_highlights_what_was_masked_and_a_kind_can_be_kept(tmp_path, demo_model_dir):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chat = tmp_path / "KakaoTalk_planted.txt"
    chat.write_text(export([message.format(value) for _, value, message in PLANTED]), encoding="utf-8")
    with running_demo_app(tmp_path / "workspace", demo_model_dir) as url, \
            playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="en-US")
        page.set_default_timeout(60_000)
        page.goto(url)
        tab = page.locator("#tab-dataset")
        tab.get_by_role("button", name="Preview").wait_for()
        for attempt in range(3):  # on a busy machine the page may take the first file before it is ready for it
            tab.locator("input[type=file]").first.set_input_files(str(chat))
            try:
                tab.get_by_text("KakaoTalk_planted.txt").first.wait_for(timeout=30_000)
                break
            except playwright_api.TimeoutError:
                if attempt == 2:
                    raise
        tab.get_by_role("button", name="Preview").click()
        tab.get_by_text("Personal information masked: 2 phone numbers").wait_for()
        masked_view = tab.locator(".textfield").first  # gr.HighlightedText
        masked_view.wait_for()
        shown = masked_view.inner_text()
        assert "010-9182-7364" in shown and "34나 5678" in shown and "jiyoung.park@naver.com" in shown
        legend = tab.locator("[data-testid='highlighted-text:category-legend']").inner_text()
        assert all(kind in legend for kind in ("phone numbers", "registration numbers", "bank accounts", "emails",
                                               "car plates", "other people's names"))
        samples = tab.locator(".cm-content").first  # what the trainer sees
        assert "<phone>" in samples.inner_text() and "010-9182-7364" not in samples.inner_text()
        page.screenshot(path=str(ARTIFACTS / "masked-preview.png"), full_page=True)

        tab.get_by_label("phone numbers").uncheck()  # keep phone numbers as they are
        tab.get_by_role("button", name="Preview").click()
        page.wait_for_function("() => document.querySelector('#tab-dataset .cm-content').innerText"
                               ".includes('010-9182-7364')")
        assert "phone numbers" not in tab.get_by_text("Personal information masked").inner_text()
        page.screenshot(path=str(ARTIFACTS / "phones-kept.png"), full_page=True)
        browser.close()
