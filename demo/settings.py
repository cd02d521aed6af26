"""The page's settings, each written once: control, words, parser, config field and transform.

Everything else is generated from :func:`table`: the controls' defaults, the
sliders and radios on the page (:mod:`demo.layout`), the run function's
parameters and their API documentation (:mod:`demo.app`), the values a preset
moves, and the :class:`StyleConfig` of a run (:func:`check`). A loss term's
weight row comes from its registration (``stylecore.register_term``), not from here.

No Gradio here: the table is plain data, tested on its own.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from stylecore import PRESETS, TERMS, ConfigError, StyleConfig, TermKind
from stylecore.config import MAX_SEED, PRESET_ALIASES, choices_of, get_preset

from . import hosting
from .controls import Choice, Control, Number, check_work, clamp_size
from .hosting import Hardware

DEFAULT_PRESET = "original"
Widget = Literal["slider", "number", "radio", "dropdown"]
#: Where a setting sits on the page: beside Run ("main"), under "More settings", under "Advanced",
#: or with the second style (demo/layout.py lays them out).
Group = Literal["second style", "main", "more", "advanced"]


def _same(value: Any) -> Any:
    return value


def _pow10(value: float) -> float:
    return float(10**value)


@dataclass(frozen=True)
class Setting:
    """One run setting. ``name`` is the API parameter; ``field`` the :class:`StyleConfig` field it sets."""

    name: str
    control: Control
    doc: str  # the API's description of the parameter (the MCP tool's too)
    widget: Widget = "slider"
    group: Group = "main"
    field: str | None = None
    to_field: Callable[[Any], Any] = _same  # control value -> config value
    from_field: Callable[[Any], Any] = _same  # config value -> control value (defaults, presets)
    default: Any = None  # None: the default preset's value, through from_field
    follows_preset: bool = False  # picking a preset moves this control to the preset's value


def table(hardware: Hardware) -> tuple[Setting, ...]:
    """Every run setting on this host, in the run function's parameter order (API callers rely on it)."""
    return (
        Setting("blend", Number("Share of the first style", 0, 1, 0.05, hint="without a region"),
                "share of the first artwork when there are two (0 to 1).", group="second style", default=0.5),
        Setting("preset", Choice("preset", tuple(sorted(PRESETS)), "Preset", "a starting point for the settings below",
                                 aliases=PRESET_ALIASES, labels={"original": "Balanced (this app's own)",
                                                                 "gatys": "Classic (as in the 2015 paper)"}),
                '"original" (the design this project started from) or "gatys" (the paper\'s settings).',
                widget="dropdown", group="advanced", default=DEFAULT_PRESET),
        Setting("iterations", Number("Iterations", 1, 2000, 1, integer=True, hint="more: stronger, and slower"),
                "optimisation steps; more is slower and stronger.", field="iterations",
                from_field=lambda n: min(n, hardware.default_iterations), follows_preset=True),
        Setting("size", Number("Output size (px)", 64, hardware.max_side, 32, integer=True,
                               hint="the picture's long side; larger is slower"),
                "long side of the result in pixels.", field="size", default=hardware.default_size),
        *(_weight(kind) for kind in TERMS.values() if kind.control is not None),  # each term's own row
        Setting("preview_every", Number("Preview every N steps", 1, 200, 1, integer=True,
                                        hint="a preview also comes every few seconds"),
                "send a preview every this many steps.", group="advanced", field="save_every", default=10),
        Setting("optimizer", Choice("optimizer", choices_of("optimizer"), "How the picture is improved",
                                    labels={"adam": "Steady (Adam)", "lbfgs": "Fewer, bigger steps (L-BFGS)"}),
                '"adam" or "lbfgs".', widget="radio", group="advanced", field="optimizer", follows_preset=True),
        Setting("init", Choice("init", choices_of("init"), "Start from",
                               labels={"content": "The photo", "noise": "Random noise", "style": "The style image"}),
                'start from the "content" photo, "noise" or the "style" image.',
                widget="radio", group="advanced", field="init", follows_preset=True),
        Setting("seed", Number("Seed", 0, MAX_SEED, 1, integer=True, hint="the same number repeats a noisy start"),
                "random seed for noise.", widget="number", group="advanced", field="seed"),
        Setting("style_scale", Number("Brush size", 0.25, 2, 0.05, hint="above 1: bigger brush strokes"),
                "artwork size relative to the result; above 1 gives bigger brush strokes.",
                group="more", field="style_scale"),
        Setting("preserve_colors", Choice("preserve_colors", choices_of("preserve_colors"), "Keep the photo's colours",
                                          labels={"none": "No: the artwork's colours", "luminance": "Yes",
                                                  "match": "Artwork's colours, photo's tones"}),
                '"none", "luminance" (keep the photo\'s colours) or "match".',
                widget="radio", group="more", field="preserve_colors"),
        Setting("scales", Number("Passes from small to full size", 0, 4, 1, integer=True,
                                 hint="more: bigger shapes from the style; 0 lets the app choose"),
                "coarse-to-fine scales (0 picks automatically).", group="advanced", field="scales"),
        Setting("style_loss", Choice("style_loss", choices_of("style_loss"), "What counts as the style",
                                     labels={"gram": "Textures (classic)", "meancov": "Colours and textures",
                                             "sliced": "Everything, most faithful (slower)"}),
                'style statistics: "gram" (Gatys et al.), "meancov" (mean and covariance) or "sliced" '
                "(sliced Wasserstein: the whole distribution of features).",
                widget="radio", group="advanced", field="style_loss"),
    )  # fmt: skip


def _weight(kind: TermKind) -> Setting:
    """A registered term's weight: a slider of its power of ten; moved by the preset where it has a config field."""
    control = kind.control
    assert control is not None
    own = kind.field in {f.name for f in fields(StyleConfig)}  # else its term_weights entry, at its default
    slider = Number(control.label, control.low, control.high, 0.1, hint=control.hint)
    group: Group = "main" if control.featured else "more"
    return Setting(control.param or f"log_{kind.name}", slider, control.help, group=group, field=kind.field,
                   to_field=_pow10, from_field=math.log10, follows_preset=own,
                   default=None if own else math.log10(kind.weight))  # fmt: skip


def by_name(settings: tuple[Setting, ...]) -> dict[str, Setting]:
    return {s.name: s for s in settings}


def defaults(settings: tuple[Setting, ...], preset: StyleConfig | None = None) -> dict[str, Any]:
    """The controls' starting values: the default preset's own, on this host's scale."""
    preset = preset or PRESETS[DEFAULT_PRESET]
    return {s.name: s.default if s.default is not None else _from_config(s, preset) for s in settings}


def _from_config(setting: Setting, config: StyleConfig) -> Any:
    assert setting.field is not None, f"{setting.name} has neither a default nor a config field"
    return setting.from_field(getattr(config, setting.field))


def preset_values(settings: tuple[Setting, ...], preset: Any) -> dict[str, Any]:
    """The values a preset moves its controls to, keyed by setting (ConfigError for an unknown preset)."""
    config = preset_config(str(by_name(settings)["preset"].control.parse(preset)))
    return {s.name: _from_config(s, config) for s in settings if s.follows_preset}


def preset_config(name: str) -> StyleConfig:
    """A preset by its checked name (old names were mapped by the preset control)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the preset control already mapped old names
        return get_preset(name)


@dataclass(frozen=True)
class Checked:
    """A request's settings, parsed once: the run's config and what to say about it."""

    config: StyleConfig
    notes: tuple[str, ...] = ()


def check(settings: tuple[Setting, ...], raw: Mapping[str, Any], hardware: Hardware, *, two_styles: bool) -> Checked:
    """Raw control values -> the run's :class:`StyleConfig`; :class:`ConfigError` names the first bad one.

    A size over the host's limit is clamped and said aloud, not refused.
    """
    clamped, notes = clamp_size(dict(raw), hardware)
    values: dict[str, Any] = {s.name: s.control.parse(clamped[s.name]) for s in settings}
    size, iterations = int(values["size"]), int(values["iterations"])
    check_work(iterations, size, hardware)
    blend = values["blend"]
    config = preset_config(values["preset"]).with_overrides(
        **{s.field: s.to_field(values[s.name]) for s in settings if s.field},
        style_blend=(blend, 1 - blend) if two_styles else None,
        time_budget=hosting.run_budget(hardware, size, iterations),
        tile=hosting.tile_for(hardware, size),
    )
    return Checked(config, tuple(notes))


def blame(settings: tuple[Setting, ...], message: str) -> str:
    """The setting a config message is about (its messages begin with its words), else the iterations."""
    return next((s.name for s in settings if message.startswith(s.control.said)), "iterations")


def max_iterations(settings: tuple[Setting, ...], size: Any, hardware: Hardware) -> int:
    """The most iterations this host runs at ``size`` (the iterations slider's maximum follows it)."""
    named = by_name(settings)
    try:
        side = int(named["size"].control.parse(clamp_size({"size": size}, hardware)[0]["size"]))
    except ConfigError:  # an unreadable size: the host's largest
        side = hardware.max_side
    iterations = named["iterations"].control
    assert isinstance(iterations, Number)
    return int(min(iterations.high, hardware.max_work // (side * side)))


def partial_config(settings: tuple[Setting, ...], raw: Mapping[str, Any], hardware: Hardware) -> StyleConfig:
    """The config that the settings in ``raw`` make from their preset (the rest at the preset's values).

    For what a few controls already decide, such as the memory estimate under the size;
    :class:`ConfigError` names the first bad value.
    """
    named = by_name(settings)
    values = {name: named[name].control.parse(value) for name, value in raw.items()}
    config = preset_config(str(values.get("preset", DEFAULT_PRESET)))
    fields: dict[str, Any] = {}
    for name, value in values.items():
        if (field := named[name].field) is not None:
            fields[field] = named[name].to_field(value)
    if "size" in values:
        fields["tile"] = hosting.tile_for(hardware, int(values["size"]))
    return config.with_overrides(**fields)
