"""The one exception type whose message is meant for the user, not for a developer."""
from __future__ import annotations

from core.i18n import env_lang, text_in


class UserError(Exception):
    """A problem the user can fix (bad input, missing model, full disk). Its message says how, in
    English, and in Korean when `ko` is given (the UI shows the page's language).

    The CLI prints it without a traceback and exits non-zero; the UI shows it as a Gradio error and
    outlines the control of `field`.
    """

    def __init__(self, message: str, ko: str | None = None, field: str | None = None):
        super().__init__(message)
        self.ko = ko or getattr(message, "ko", None)
        self.field = field  # the config field (the page's control) to change, where there is one

    def text(self, lang: str | None = None) -> str:
        """The message in `lang`; without one, in the command line's language (TUNER_LANG / LANG)."""
        return text_in(self, lang or env_lang())
