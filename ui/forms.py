"""Components keyed by name: a tab builds a `Form` of its config's fields, wires `form.inputs`, and its
handler gets the values back by field name with one call. The event's API takes the same names as
keyword arguments, each defaulting to its component's value (`client.predict(max_steps=30, …)`), so
no list of positions exists to keep in step."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import gradio as gr


class Form:
    def __init__(self, **components: gr.components.Component):
        self.components = components
        for name, component in components.items():  # an error about a field outlines its control (ui.common)
            component.elem_classes = [*(component.elem_classes or []), f"field-{name}"]

    def __getitem__(self, name: str) -> gr.components.Component:
        return self.components[name]

    @property
    def inputs(self) -> list[gr.components.Component]:
        return list(self.components.values())

    def handler(self, handle: Callable, leading: tuple[str, ...] = ()) -> Callable:
        """`handle(*leading_values, values: dict)` as an event function taking the leading inputs, then
        this form's fields, by position or by name (wire it with `inputs=[*leading, *form.inputs]`)."""
        names = list(leading) + list(self.components)

        @functools.wraps(handle)
        def event(*args, **kwargs):
            given = dict(zip(names, args)) | kwargs
            return handle(*(given.get(name) for name in leading),
                          {name: given.get(name) for name in self.components})

        parameters = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in names]
        event.__signature__ = inspect.Signature(parameters)
        if inspect.isgeneratorfunction(handle):  # keep streaming handlers recognisable as generators
            @functools.wraps(handle)
            def streaming(*args, **kwargs):
                yield from event(*args, **kwargs)

            streaming.__signature__ = event.__signature__
            return streaming
        return event
