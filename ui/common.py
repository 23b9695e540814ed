"""Small helpers shared by the tabs: turning library errors into Gradio messages."""
from __future__ import annotations

import functools
import inspect
from contextlib import contextmanager

import gradio as gr
from pydantic import ValidationError

from core.errors import UserError


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
        raise gr.Error(str(err), print_exception=False) from err
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise gr.Error(f"Invalid option: {problems}", print_exception=False) from err

