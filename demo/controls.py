"""The parsers behind the page's controls: a number in a range, or one of a few words.

A slider's range is only a browser hint; an API caller can send NaN, null, a
string or 10**9. Every value goes through a control's ``parse`` on the server
(from the one table in :mod:`demo.settings`), and each bad one gets one
sentence that names the control and what it takes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stylecore import ConfigError

from .hosting import Hardware


@dataclass(frozen=True)
class Number:
    """A numeric control: its label, range, step, and whether it takes whole numbers only."""

    label: str
    low: float
    high: float
    step: float
    integer: bool = False
    hint: str = ""  # under the control: the technical name behind an artist's word

    @property
    def said(self) -> str:
        """How its messages begin (the validator puts a message on the control it names)."""
        return self.label

    def parse(self, value: Any) -> float:
        """``value`` as a number in range, or :class:`ConfigError` saying what is allowed."""
        kind = "a whole number" if self.integer else "a number"
        allowed = f"{self.label} must be {kind} from {self.low:g} to {self.high:g}"
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{allowed}, got {value[:20]!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"{allowed}, got {value!r}"[:160])
        if not self.low <= value <= self.high or (self.integer and value != int(value)):
            raise ConfigError(f"{allowed}, got {value:g}")
        return int(value) if self.integer else float(value)


@dataclass(frozen=True)
class Choice:
    """One of a few words; messages use the API's name (what a caller typed), the page shows ``label``."""

    name: str
    options: tuple[str, ...]
    label: str
    hint: str = ""
    aliases: Mapping[str, str] = field(default_factory=dict)  # old names API callers may still send
    labels: Mapping[str, str] = field(default_factory=dict)  # what the page shows for an option (else its name)

    def shown(self) -> list[tuple[str, str]]:
        """(what the page shows, the value sent) for each option."""
        return [(self.labels.get(o, o), o) for o in self.options]

    @property
    def said(self) -> str:
        return self.name.replace("_", " ")

    def parse(self, value: Any) -> str:
        if isinstance(value, str) and value in self.aliases:
            return self.aliases[value]
        if not isinstance(value, str) or value not in self.options:
            shown = repr(value)[:30]
            raise ConfigError(f"{self.said} must be one of {', '.join(self.options)}, got {shown}")
        return value


Control = Number | Choice


def check_work(iterations: int, size: int, hardware: Hardware) -> None:
    """Refuse runs bigger than this host serves at once (iterations x output pixels)."""
    if iterations * size * size > hardware.max_work:
        most = hardware.max_work // (size * size)
        raise ConfigError(
            f"{iterations} iterations at {size} px is more than this server runs at once; "
            f"use at most {most} iterations at that size, or a smaller size"
        )


def clamp_size(settings: dict[str, Any], hardware: Hardware) -> tuple[dict[str, Any], list[str]]:
    """A size over this host's limit becomes the limit, said aloud; anything else is checked later."""
    size = settings.get("size")
    if (
        isinstance(size, int | float)
        and not isinstance(size, bool)
        and math.isfinite(size)
        and size > hardware.max_side
    ):
        note = f"Size {size:g} is over this host's {hardware.max_side} limit; used {hardware.max_side}"
        return {**settings, "size": hardware.max_side}, [note]
    return settings, []
