"""The app's run controls: one table that builds the sliders and checks what the API sends.

A slider's range is only a browser hint; an API caller can send NaN, null, a
string or 10**9. Every value goes through :func:`to_config` on the server, and
each bad one gets one sentence that names the control and its range.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from stylecore import PRESETS, ConfigError, StyleConfig
from stylecore.config import MAX_SEED, PRESET_ALIASES, choices_of, get_preset

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


def numbers(hardware: Hardware) -> dict[str, Number]:
    """Every numeric control, keyed by the run function's parameter name."""
    return {
        "blend": Number("Share of the first style", 0, 1, 0.05),
        "iterations": Number("Iterations", 1, 2000, 1, integer=True),
        "size": Number("Output size (px)", 64, hardware.max_side, 32, integer=True),
        "log_cw": Number("How much of the photo", -2, 3, 0.1, hint="content weight, as a power of ten"),
        "log_sw": Number("How much style", -2, 4, 0.1, hint="style weight, as a power of ten"),
        "log_tv": Number("Smoothness", -4, 2, 0.1, hint="total variation (TV) weight, as a power of ten"),
        "preview_every": Number("Preview every N steps", 1, 200, 1, integer=True),
        "style_scale": Number("Brush size", 0.25, 2, 0.05, hint="style scale: above 1, bigger brush strokes"),
        "scales": Number("Coarse-to-fine scales", 0, 4, 1, integer=True),
        "seed": Number("Seed", 0, MAX_SEED, 1, integer=True),
    }


CHOICES: dict[str, tuple[str, ...]] = {
    "preset": tuple(sorted(PRESETS)),
    "optimizer": choices_of("optimizer"),
    "init": choices_of("init"),
    "preserve_colors": choices_of("preserve_colors"),
    "style_loss": choices_of("style_loss"),
}


def choice(name: str, value: Any) -> str:
    if name == "preset" and value in PRESET_ALIASES:  # old API callers
        return str(PRESET_ALIASES[value])
    if not isinstance(value, str) or value not in CHOICES[name]:
        shown = repr(value)[:30]
        raise ConfigError(f"{name.replace('_', ' ')} must be one of {', '.join(CHOICES[name])}, got {shown}")
    return value


def to_config(settings: dict[str, Any], hardware: Hardware, *, two_styles: bool, time_budget: float) -> StyleConfig:
    """The run's :class:`StyleConfig` from raw control values; :class:`ConfigError` names the first bad one."""
    v = {name: number.parse(settings[name]) for name, number in numbers(hardware).items()}
    picked = {name: choice(name, settings[name]) for name in CHOICES}
    check_work(int(v["iterations"]), int(v["size"]), hardware)
    blend = v["blend"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # choice() already mapped old names
        preset = get_preset(picked["preset"])
    return preset.with_overrides(
        iterations=int(v["iterations"]),
        size=int(v["size"]),
        content_weight=10 ** v["log_cw"],
        style_weight=10 ** v["log_sw"],
        tv_weight=10 ** v["log_tv"],
        save_every=int(v["preview_every"]),
        optimizer=picked["optimizer"],
        init=picked["init"],
        seed=int(v["seed"]),
        style_scale=v["style_scale"],
        preserve_colors=picked["preserve_colors"],
        scales=int(v["scales"]),
        style_loss=picked["style_loss"],
        style_blend=(blend, 1 - blend) if two_styles else None,
        time_budget=time_budget,
    )


def check_work(iterations: int, size: int, hardware: Hardware) -> None:
    """Refuse runs bigger than this host serves at once (iterations x output pixels)."""
    if iterations * size * size > hardware.max_work:
        most = hardware.max_work // (size * size)
        raise ConfigError(
            f"{iterations} iterations at {size} px is more than this server runs at once; "
            f"use at most {most} iterations at that size, or a smaller size"
        )


def max_iterations(size: Any, hardware: Hardware) -> int:
    """The most iterations this host runs at ``size`` (the iterations slider's maximum follows it)."""
    try:
        side = int(numbers(hardware)["size"].parse(clamp_size({"size": size}, hardware)[0]["size"]))
    except ConfigError:
        side = hardware.max_side
    return int(min(numbers(hardware)["iterations"].high, hardware.max_work // (side * side)))


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
