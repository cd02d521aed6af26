"""The /stylize endpoint's generated signature.

Gradio reads an endpoint's parameter names, defaults and documentation from the
function's signature; the run's parameters come from the settings table, so the
signature is generated here (``tests/test_demo.py`` adds a row and sees a new parameter).

There is no ``validator``: a value Gradio refuses at the queue's door (HTTP 422)
never reaches a streamed ``client.submit(...)`` job, whose loop then waits forever
(gradio_client 2.7). Values are refused by the run itself, so every client's
wait ends with the same sentence. A client's share of the queue is checked at the
door by :class:`demo.limits.FairQueue`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import gradio as gr

from . import words
from .checks import IMAGE_INPUTS, Problem, Request


def with_parameters(fn: Callable[..., Any], names: Sequence[str], defaults: dict[str, Any], doc: str,
                    extra: list[inspect.Parameter]) -> Callable[..., Any]:  # fmt: skip
    """``fn`` with a signature of its own (Gradio reads parameter names, defaults and docs from it)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(n, kind, default=defaults[n]) if n in defaults else inspect.Parameter(n, kind)
              for n in names]  # fmt: skip
    fn.__signature__ = inspect.Signature([*params, *extra])  # type: ignore[attr-defined]
    fn.__doc__ = doc
    fn.__annotations__ = {p.name: p.annotation for p in extra if p.annotation is not inspect.Parameter.empty}
    return fn


def stylize_function(names: Sequence[str], defaults: dict[str, Any], setting_docs: str,
                     prepare: Callable[[dict[str, Any]], Request],
                     run: Callable[[Request, Any], Iterator[tuple[Any, ...]]]) -> Callable[..., Any]:  # fmt: skip
    """The API's run: raw values in (positional or by name), checked by ``prepare``, then ``run``."""

    def stylize(*args: Any, **kwargs: Any) -> Iterator[tuple[Any, ...]]:
        progress = kwargs.pop("progress", None)
        values = dict(zip(names, args, strict=False)) | kwargs
        try:
            request = prepare({n: values.get(n, defaults.get(n)) for n in names})
        except Problem as problem:
            raise gr.Error(problem.message, print_exception=False) from None
        yield from run(request, progress)

    progress = inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress())
    optional = dict.fromkeys(IMAGE_INPUTS[2:])
    return with_parameters(stylize, names, optional | defaults, words.RUN_DOC + setting_docs, [progress])
