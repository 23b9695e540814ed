"""Korean and English for what the library tells the user.

Messages are English strings that may carry their Korean translation: `UserError(en, ko=...)` and
`Text(en, ko)` (a str that is the English text everywhere it is used as a string: logs, JSON, tests).
Whoever shows the message picks the language: the web UI by the page's language, a command line by
`TUNER_LANG` or the locale in `LANG`.
"""
from __future__ import annotations

import os

LANGS = ("ko", "en")
LANG_ENV = "TUNER_LANG"


class Text(str):
    """English text that also knows its Korean translation."""

    ko: str

    def __new__(cls, en: str, ko: str) -> Text:
        text = super().__new__(cls, en)
        text.ko = ko
        return text


def text_in(message, lang: str) -> str:
    """The message in `lang` ("ko" or "en"); English where no translation was given."""
    if lang == "ko":
        translated = getattr(message, "ko", None)
        if translated:
            return translated
    return str(message)


def env_lang() -> str:
    """The language of a command line: TUNER_LANG=ko|en, else Korean when the locale (LANG) is Korean."""
    chosen = os.environ.get(LANG_ENV, "").strip().lower()
    if chosen in LANGS:
        return chosen
    return "ko" if os.environ.get("LANG", "").lower().startswith("ko") else "en"
