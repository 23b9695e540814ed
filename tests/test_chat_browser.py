"""Korean input in a real browser (Debian's Chromium through Playwright): pressing Enter while a Hangul
syllable is still being composed sends the whole message once.

The composition is Chromium's own (CDP Input.imeSetComposition / insertText fire the real
compositionstart, input and compositionend events). Headless Chromium hands no key events to the page
while a composition is open, so the Enter an IME reports at that moment (isComposing: true) is
dispatched on the textarea as the page would receive it, and reaches Gradio's own handler.
"""
from __future__ import annotations


import pytest

from tests.app_server import launch_chromium, running_app

playwright_api = pytest.importorskip("playwright.sync_api")
MESSAGE = "안녕하세요"


@pytest.fixture(scope="module")
def app(workspace, chat_export):
    with running_app(workspace.root) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def compose_and_press_enter_mid_syllable(page, box):
    """Types 안녕하세, composes 요, and presses Enter while 요 is still being composed; returns the
    DevTools session that holds the composition."""
    cdp = page.context.new_cdp_session(page)
    box.click()
    cdp.send("Input.insertText", {"text": MESSAGE[:-1]})
    cdp.send("Input.imeSetComposition", {"text": MESSAGE[-1], "selectionStart": 1, "selectionEnd": 1})
    box.evaluate("""(textarea) => {
        for (const type of ["keydown", "keypress"]) {
            textarea.dispatchEvent(new KeyboardEvent(type, {key: "Enter", code: "Enter", isComposing: true,
                                                             bubbles: true, cancelable: true}));
        }
    }""")
    return cdp


def user_messages(page) -> list[str]:
    return [row.inner_text().strip() for row in page.locator("#single-chat .message-row.user-row").all()]


def open_single_chat(browser, url):
    page = browser.new_page()
    page.goto(url)
    page.get_by_role("tab", name="Chat · 대화").first.click()
    box = page.locator("#single-message textarea")
    box.wait_for()
    return page, box


def test_enter_during_hangul_composition_sends_the_whole_message_once(app, browser, tmp_path_factory):
    page, box = open_single_chat(browser, app)
    ime = compose_and_press_enter_mid_syllable(page, box)
    page.wait_for_timeout(1500)
    assert user_messages(page) == []  # the Enter that belongs to the syllable sent nothing
    ime.send("Input.insertText", {"text": MESSAGE[-1]})  # the IME commits 요 (compositionend)
    assert box.input_value() == MESSAGE
    page.keyboard.press("Enter")
    page.locator("#single-chat .message-row.bot-row").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1000)  # a second, wrong send would show by now
    assert user_messages(page) == [MESSAGE]
    assert box.input_value() == ""
    page.screenshot(path=str(tmp_path_factory.mktemp("screens") / "korean-ime.png"), full_page=True)
    page.close()


def test_without_the_guard_gradio_sends_mid_syllable(app, browser):
    """The control: with the guard's class removed, the same keys make Gradio send the message while
    the IME still holds its last syllable. If this starts failing, Gradio guards compositions itself
    and ui/ime_guard.js can go."""
    page, box = open_single_chat(browser, app)
    page.evaluate("document.querySelector('#single-message').classList.remove('ime-safe')")
    compose_and_press_enter_mid_syllable(page, box)
    page.locator("#single-chat .message-row.user-row").first.wait_for(timeout=10_000)
    assert len(user_messages(page)) == 1
    page.close()
