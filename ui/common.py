"""Small helpers shared by the tabs: turning library errors into Gradio messages in the page's language."""
from __future__ import annotations

import functools
import inspect
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
from gradio.context import LocalContext
from pydantic import ValidationError

from core.errors import UserError
from ui.i18n import lang, localized, page_script, say

VERDICT_BUTTONS = {"left": "👈 A is better · A가 낫다", "right": "👉 B is better · B가 낫다",
                   "tie": "🤝 Tie · 비슷함", "both_bad": "👎 Both bad · 둘 다 별로"}
# Korean (IME) input: Enter that commits a syllable must not send the message (see the script).
IME_GUARD = Path(__file__).with_name("ime_guard.js").read_text(encoding="utf-8")
ERROR_FIELD = Path(__file__).with_name("error_field.js").read_text(encoding="utf-8")


def user_errors(handler):
    """Shows UserError and invalid options as a Gradio error message instead of a traceback; works
    for plain handlers and for generators that stream updates."""
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def streaming(*args, **kwargs):
            with _as_gradio_errors():
                yield from handler(*args, **kwargs)

        return streaming

    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        with _as_gradio_errors():
            return handler(*args, **kwargs)

    return wrapped


@contextmanager
def _as_gradio_errors():
    try:
        yield
    except UserError as err:
        raise gr.Error(_message(localized(err), err.field), print_exception=False) from err
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        first = err.errors()[0]["loc"] if err.errors() else ()
        raise gr.Error(_message(say(f"Invalid option: {problems}", f"잘못된 설정: {problems}"),
                                str(first[0]) if first else None), print_exception=False) from err


def _message(text: str, field: str | None) -> str:
    """An error as the page shows it, which renders it as HTML: escaped (a placeholder such as <name>
    stays visible), and marked with the field whose control the page script (error_field.js)
    outlines. A client of the API (gradio_client says so in a header) gets the plain text."""
    request = LocalContext.request.get(None)
    if request is not None and request.headers.get("x-gradio-user") == "api":
        return text
    # a class, not a data- attribute: Gradio's sanitizer keeps only the former in a message
    return html_escape(text) + (f"<span class='error-field for-{html_escape(field)}'></span>" if field else "")


def page_head() -> str:
    """The scripts every page of the app carries: its language, the Korean input guard, and errors
    that outline the control to change."""
    return page_script() + f"<script>{IME_GUARD}</script><script>{ERROR_FIELD}</script>"


def verdict_words(verdict: str) -> str:
    """A vote's button text in the page's language, emoji kept: "👈 A is better" or "👈 A가 낫다"."""
    english, korean = VERDICT_BUTTONS[verdict].split(" · ")
    return say(english, f"{english.split()[0]} {korean}")


def job_progress_html(css_class: str, status, parts: list[str], states_ko: dict[str, str]) -> str:
    """A job's progress bar, its state (in the page's language) after `parts[0]`, the other parts, and
    its error; `data-state` carries the state for tests and styles."""
    korean = lang() == "ko"
    state = states_ko.get(status.state, status.state) if korean else status.state
    shown = [f"{parts[0]}: {state}", *parts[1:], f"{status.share:.0%}"]
    error = (korean and status.error_ko) or status.error
    detail = f"<div style='color:#c00'>{html_escape(error)}</div>" if error else ""
    bar = f"<progress value='{status.share:.3f}' max='1' style='width:100%'></progress>"
    return (f"<div class='{css_class}' data-state='{status.state}'>{bar}"
            f"<div>{' · '.join(part for part in shown if part)}</div>{detail}</div>")


def has_rows(frame) -> bool:
    """Whether a Dataframe's value (as an event gets it) holds a row with something in it."""
    return frame is not None and any(str(cell).strip() for cell in getattr(frame, "values", frame).flatten()
                                     if cell is not None and cell == cell)


def html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
