"""The app in Korean and English: `--lang`, the in-page switch (no reload, remembered), messages from
the server in the page's language, and every user-facing error written in both."""
from __future__ import annotations

import ast

import pytest
from gradio_client import Client
from playwright.sync_api import expect, sync_playwright

from tests.app_server import launch_chromium, running_app
from tests.conftest import ROOT

PACKAGES = ("core", "data", "tuning", "inference", "ui")
BAD_NAME = "../evil"
DATASET_OPTIONS = [None, "samples/kakao", "auto", "blog", "", True, "demo", 1024, 2, 60, 0.05, 42]


@pytest.fixture(scope="module")
def korean_app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("i18n") / "workspace", "--lang", "ko") as url:
        yield url


def test_the_page_follows_lang_and_switches_in_place(korean_app):
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(locale="en-US")  # the browser says English; --lang ko wins
        page.goto(korean_app)
        expect(page.get_by_text("작업 폴더", exact=False).first).to_be_visible(timeout=60_000)
        expect(page.get_by_label("봇 화자")).to_be_visible()
        expect(page.locator("#tab-dataset-button, button:has-text('Dataset · 데이터셋')").first).to_be_visible()

        page.fill("#tab-dataset textarea[placeholder='my-chats'], #tab-dataset input[placeholder='my-chats']", BAD_NAME)
        page.get_by_role("button", name="데이터셋 저장").click()
        expect(page.get_by_text("쓸 수 없는 이름입니다", exact=False).first).to_be_visible(timeout=30_000)

        page.locator("#language").get_by_text("English").click()
        expect(page.get_by_label("Bot speaker")).to_be_visible(timeout=10_000)  # switched without a reload
        page.get_by_role("button", name="Save dataset").click()
        expect(page.get_by_text("is not a usable name", exact=False).first).to_be_visible(timeout=30_000)

        page.reload()
        expect(page.get_by_label("Bot speaker")).to_be_visible(timeout=60_000)  # the choice is remembered
        expect(page.locator("#language input[value='en']")).to_be_checked()
        browser.close()


def test_server_messages_follow_the_language_cookie(korean_app):
    korean = Client(korean_app, verbose=False, headers={"Cookie": "tuner_lang=ko"})
    with pytest.raises(Exception, match="쓸 수 없는 이름입니다"):
        korean.predict(BAD_NAME, *DATASET_OPTIONS, api_name="/save_dataset")
    english = Client(korean_app, verbose=False, headers={"Cookie": "tuner_lang=en"})
    with pytest.raises(Exception, match="is not a usable name"):
        english.predict(BAD_NAME, *DATASET_OPTIONS, api_name="/save_dataset")


def test_every_user_error_has_korean():
    """Every `UserError("...")` written in the project's code gives `ko=`; one given a message made
    elsewhere (a Text, another error) carries that message's translation."""
    missing = []
    for path in [ROOT / "app.py", *(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "UserError":
                written_here = node.args and isinstance(node.args[0], (ast.Constant, ast.JoinedStr, ast.BinOp))
                if written_here and not any(keyword.arg == "ko" for keyword in node.keywords):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not missing, missing


def test_every_label_has_a_korean_translation(tmp_path):
    import app
    from core.workspace import Workspace
    from tuning.config import Hardware
    from ui import i18n

    app.build_app(Workspace.open(tmp_path / "workspace"), Hardware(cuda=False))
    translations = i18n.translations().translations_dict
    assert len(translations["en"]) > 60 and translations["en"].keys() == translations["ko"].keys()
    untranslated = [en for key, en in translations["en"].items() if translations["ko"][key] == en and en.isascii()
                    and any(c.isalpha() for c in en) and " " in en]
    assert not untranslated, untranslated
