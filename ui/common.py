"""Small helpers shared by the tabs: turning library errors into Gradio messages."""
from __future__ import annotations

import functools

import gradio as gr
from pydantic import ValidationError

from core.errors import UserError


def user_errors(handler):
    """Shows UserError and invalid options as a Gradio error message instead of a traceback."""

    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except UserError as err:
            raise gr.Error(str(err), print_exception=False) from err
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise gr.Error(f"Invalid option: {problems}", print_exception=False) from err

    return wrapped


def coming_tab(what: str, issue: str) -> None:
    gr.Markdown(f"**{what}** is coming ({issue}).")
