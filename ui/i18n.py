"""The page in Korean or English.

Labels are translated in the browser: `T(en, ko)` registers both texts and returns Gradio's
translation key, and `translations()` hands them all to `launch(i18n=...)`. Messages made by handlers
(status lines, errors) are translated here, in the language of the page that asked: `say(en, ko)`,
`localized(message)`.

The page's language is the one picked in its selector (kept in the browser), else `--lang`, else the
browser's own. The page script (`language.js`) applies it and mirrors it into the `tuner_lang`
cookie, which is how a handler learns it; a client without the cookie gets `--lang`, else its
Accept-Language, else English.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import gradio as gr
from gradio.context import LocalContext
from gradio.i18n import I18nData

from core.i18n import LANGS, text_in

COOKIE = "tuner_lang"
SELECTOR_CHOICES = [("한국어", "ko"), ("English", "en")]
_SCRIPT = Path(__file__).with_name("language.js").read_text(encoding="utf-8")
_korean: dict[str, str] = {}  # English text -> Korean, every label registered with T()
_default_lang: str | None = None  # --lang; None: the browser's language


def T(en: str, ko: str) -> I18nData:
    """A label shown in the page's language (translated by the browser). It may be joined with plain
    text (`T(...) + ": x"`), but a string holds at most one: the browser translates only the first."""
    known = _korean.setdefault(en, ko)
    if known != ko:
        raise ValueError(f"{en!r} is translated twice: {known!r} and {ko!r}")
    return I18nData(_key(en))


def translations() -> gr.I18n:
    return gr.I18n(en={_key(en): en for en in _korean}, ko={_key(en): ko for en, ko in _korean.items()})


def set_default_lang(lang: str | None) -> None:
    """--lang ko|en for every page that has not picked a language; None or "auto": the browser's."""
    global _default_lang
    if lang not in (None, "auto", *LANGS):
        raise ValueError(f"--lang must be one of auto, {', '.join(LANGS)}")
    _default_lang = None if lang == "auto" else lang


def page_script() -> str:
    """The <script> for launch(head=...): applies the language and keeps the cookie in step."""
    return f"<script>window.TUNER_DEFAULT_LANG = {json.dumps(_default_lang)};\n{_SCRIPT}</script>"


def lang() -> str:
    """The language of the page whose event is being handled ("en" outside an event)."""
    request = LocalContext.request.get(None)
    if request is not None:
        chosen = (request.cookies or {}).get(COOKIE)
        if chosen in LANGS:
            return chosen
    if _default_lang:
        return _default_lang
    if request is not None and _prefers_korean(request.headers.get("accept-language", "")):
        return "ko"
    return "en"


def say(en: str, ko: str) -> str:
    return ko if lang() == "ko" else en


def localized(message) -> str:
    """A library message (UserError, Text, str) in the page's language."""
    return text_in(message, lang())


def language_selector() -> gr.Radio:
    """The page's language switch; the choice is applied in the browser, without a reload."""
    selector = gr.Radio(choices=SELECTOR_CHOICES, value=None, label="Language · 언어", show_label=False, container=False,
                        elem_id="language", scale=0, min_width=160)
    selector.input(None, inputs=[selector], js="(lang) => { window.tunerSetLang(lang); }")
    return selector


def show_current_language(app: gr.Blocks, selector: gr.Radio) -> None:
    app.load(None, outputs=[selector], js="() => (window.tunerLang ? window.tunerLang() : null)")


def _prefers_korean(accept_language: str) -> bool:
    first = accept_language.split(",")[0].strip().lower()
    return first.startswith("ko")


def _key(en: str) -> str:
    # Keys are hashes: the browser's i18n library reads dots in a key as nesting.
    return "t" + hashlib.sha1(en.encode("utf-8")).hexdigest()[:12]
