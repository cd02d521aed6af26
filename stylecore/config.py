"""The one configuration for a stylisation run, shared by the CLI and the app.

Field metadata carries the help text; the CLI builds its options from it, so
defaults are written only here.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, get_args, get_type_hints

from .errors import ConfigError
from .model.layers import DEFAULT_LAYERS, MIN_SIDE, layer_names

#: Curvature pairs L-BFGS keeps. Not a setting; here so the optimizer and the memory estimate share it.
LBFGS_HISTORY = 50

Optimizer = Literal["adam", "lbfgs"]
Init = Literal["content", "noise", "style"]
Device = Literal["auto", "cpu", "cuda"]
PreserveColors = Literal["none", "luminance", "match"]
Precision = Literal["auto", "fp32", "bf16"]
StyleLoss = Literal["gram", "meancov", "sliced"]

MAX_SEED = 2**63 - 1  # torch generators take a signed 64-bit seed
DEFAULT_LR = {"adam": 0.02, "lbfgs": 1.0}  # per optimiser, when ``lr`` is None
TILE_AUTO: Literal["auto"] = "auto"  # ``tile``: tile only when the untiled step would not fit
FLAT_WINDOW = 50  # steps over which ``stop_when_flat`` compares the loss


def _opt(help: str, default: Any, **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class StyleConfig:
    """Everything that decides a stylisation result (except the images)."""

    size: int = _opt("long side of the output in pixels; aspect ratio is kept", 512)
    iterations: int = _opt("optimisation steps (one VGG forward+backward each)", 1000)
    optimizer: Optimizer = _opt("adam (robust) or lbfgs (fewer steps, Gatys et al.)", "adam")
    lr: float | None = _opt("step size (default: 0.02 for adam, in [0,1] pixel units; 1.0 for lbfgs)", None)
    init: Init = _opt("start from the content image, noise, or the (resized) style image", "content")
    content_weight: float = _opt("weight of the content term (relative feature error)", 1.0)
    style_weight: float = _opt("weight of the style term (relative Gram error)", 10.0)
    tv_weight: float = _opt("weight of total variation (smoothness)", 1.0)
    content_layers: tuple[str, ...] = _opt("VGG19 layers for content (names or indices)", DEFAULT_LAYERS)
    style_layers: tuple[str, ...] = _opt("VGG19 layers for style (names or indices)", DEFAULT_LAYERS)
    style_blend: tuple[float, ...] | None = _opt("weights of several style images, e.g. 0.7,0.3 (default: equal)", None)
    style_scale: float = _opt("style image size relative to the output; > 1 gives bigger brush strokes", 1.0)
    style_loss: StyleLoss = _opt(
        "style statistics: gram (Gatys et al.), meancov (mean and covariance, 2-Wasserstein) or sliced "
        "(sliced Wasserstein: the whole feature distribution)",
        "gram",
    )
    preserve_colors: PreserveColors = _opt(
        "keep the content's colours: luminance-only transfer, or match the style's colours first", "none"
    )
    scales: int = _opt("coarse-to-fine scales (1: single scale, 0: automatic)", 1)
    time_budget: float | None = _opt("stop cleanly after this many seconds with the image so far", None)
    precision: Precision = _opt(
        "auto: bf16 autocast of the VGG pass where bf16 measures at least 1.2x faster than fp32 on this machine "
        "(timed once, cached; $STYLECORE_PRECISION forces one), else fp32",
        "auto",
    )
    stop_when_flat: float | None = _opt(
        f"stop when the loss fell by less than this fraction over the last {FLAT_WINDOW} steps, e.g. 0.001 "
        "(default: run all iterations)",
        None,
    )
    save_every: int = _opt("report a snapshot every N iterations (0: final only)", 200)
    seed: int = _opt("random seed for noise init", 0)
    device: Device = _opt("auto picks CUDA when available", "auto")
    weights: str | None = _opt(
        "imagenet, random[:SEED] or a checkpoint file (default: $STYLECORE_WEIGHTS, then imagenet)", None
    )
    tile: int | Literal["auto"] = _opt(
        "print size: compute each step exactly in tiles of this many px (multiple of 16), so memory follows "
        "the tile, not the image (0: off; auto: tile only when the untiled step would not fit the memory, "
        "in the largest tiles that do)",
        0,
    )
    term_weights: tuple[str, ...] = _opt(
        "weights of registered loss terms that have no option of their own, as NAME=WEIGHT, e.g. edges=2", ()
    )

    def __post_init__(self) -> None:
        # Accept indices or mixed case, store canonical paper names.
        object.__setattr__(self, "content_layers", layer_names(self.content_layers))
        object.__setattr__(self, "style_layers", layer_names(self.style_layers))
        _check_range("size", self.size, MIN_SIDE, 8192)
        _check_range("iterations", self.iterations, 1, 1_000_000)
        _check_range("save_every", self.save_every, 0, 1_000_000)
        _check_range("scales", self.scales, 0, 8)
        _check_range("seed", self.seed, 0, MAX_SEED)
        object.__setattr__(self, "tile", _tile_value(self.tile))
        for name in _WEIGHT_FIELDS:
            _check_number(name, getattr(self, name), positive=False)
        object.__setattr__(self, "term_weights", _term_weights(self.term_weights))
        for name in ("lr", "style_scale", "time_budget", "stop_when_flat"):
            if getattr(self, name) is not None:
                _check_number(name, getattr(self, name), positive=True)
        if self.style_blend is not None:
            object.__setattr__(self, "style_blend", tuple(float(w) for w in self.style_blend))
            for weight in self.style_blend:
                _check_number("style_blend", weight, positive=False)
            if sum(self.style_blend) <= 0:
                raise ConfigError("style_blend needs at least one weight > 0")
            if not math.isfinite(sum(self.style_blend)):  # 1e308,1e308: each finite, their sum is not
                raise ConfigError("style_blend weights are too large to add up; give them as shares, e.g. 0.7,0.3")
        for name in ("optimizer", "init", "device", "preserve_colors", "precision", "style_loss"):
            _check_choice(name, getattr(self, name))

    @property
    def step_size(self) -> float:
        """``lr``, or the chosen optimiser's default when it is None."""
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    @property
    def layers(self) -> tuple[str, ...]:
        """All layers the extractor must return (content first, no repeats)."""
        return layer_names(self.content_layers + self.style_layers)

    def term_weight(self, term: str, default: float) -> float:
        """A loss term's weight: its own field (``content_weight``, ...), else its ``term_weights`` entry,
        else ``default`` (the term's registered weight)."""
        if f"{term}_weight" in _WEIGHT_FIELDS:
            return float(getattr(self, f"{term}_weight"))
        return dict(_split(entry) for entry in self.term_weights).get(term, default)

    def term_weight_names(self) -> tuple[str, ...]:
        """The terms ``term_weights`` names."""
        return tuple(_split(entry)[0] for entry in self.term_weights)

    def with_overrides(self, **changes: Any) -> StyleConfig:
        """A validated copy with the given fields changed (None sets a field to None).

        ``<term>_weight`` for a term without a field of its own sets its ``term_weights`` entry.
        """
        names = {f.name for f in fields(self)}
        extra = {
            k.removesuffix("_weight"): changes.pop(k) for k in list(changes) if k not in names and k.endswith("_weight")
        }
        if extra:
            kept = [entry for entry in changes.get("term_weights", self.term_weights) if _split(entry)[0] not in extra]
            changes["term_weights"] = (*kept, *(f"{name}={weight}" for name, weight in extra.items()))
        return replace(self, **changes)


#: The loss weights StyleConfig has fields for (the built-in terms'); other terms' are in ``term_weights``.
_WEIGHT_FIELDS = tuple(f.name for f in fields(StyleConfig) if f.name.endswith("_weight"))


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be an integer in [{low}, {high}], got {value!r}")


def _split(entry: str) -> tuple[str, float]:
    name, _, weight = entry.partition("=")
    return name.strip(), float(weight)


def _term_weights(entries: object) -> tuple[str, ...]:
    """``term_weights`` as canonical ``name=weight`` entries, each name once and each weight finite >= 0."""
    if isinstance(entries, str) or not isinstance(entries, tuple | list):
        raise ConfigError(f"term_weights must be NAME=WEIGHT entries, e.g. ('edges=2',), got {entries!r}")
    parsed: dict[str, float] = {}
    for entry in entries:
        name, sep, weight = str(entry).partition("=")
        name = name.strip()
        try:
            value = float(weight)
        except ValueError:
            value = math.nan
        if not sep or not name.isidentifier() or f"{name}_weight" in _WEIGHT_FIELDS or name in parsed:
            raise ConfigError(
                f"term_weights entry {entry!r} must be NAME=WEIGHT, once per term, for a term without its own option"
            )
        _check_number(f"the weight of {name}", value, positive=False)
        parsed[name] = value
    return tuple(f"{name}={weight:g}" for name, weight in parsed.items())


def _tile_value(value: object) -> int | Literal["auto"]:
    """``tile`` as given, or parsed from the CLI's text ("auto" or a number): the CLI passes it through as is."""
    if isinstance(value, str) and value.strip().lower() == TILE_AUTO:
        return TILE_AUTO
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 8192:
        raise ConfigError(f"tile must be 0 (off), auto, or a number of px up to 8192, got {value!r}")
    if value and (value < 32 or value % 16):
        raise ConfigError(f"tile must be 0 (off), auto, or a multiple of 16 of at least 32, got {value}")
    return value


def _check_number(name: str, value: float, *, positive: bool) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ConfigError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")


def _check_choice(name: str, value: str) -> None:
    choices = choices_of(name)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def choices_of(name: str) -> tuple[str, ...]:
    """The allowed values of a Literal-typed field."""
    return get_args(get_type_hints(StyleConfig)[name])


#: Named starting points; explicit options override them.
PRESETS: dict[str, StyleConfig] = {
    # The original design: Adam from the content image, the five conv taps
    # (features 0, 5, 10, 19, 28) for both content and style, 1000 steps,
    # a snapshot every 200.
    "original": StyleConfig(),
    # Gatys et al. 2015/16: post-ReLU style taps, content at relu4_2, L-BFGS
    # from white noise.
    "gatys": StyleConfig(
        iterations=500,
        optimizer="lbfgs",
        init="noise",
        content_layers=("relu4_2",),
        style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        save_every=100,
    ),
}


#: Old preset names, still accepted with a DeprecationWarning.
PRESET_ALIASES = {"seed": "original"}


def get_preset(name: str) -> StyleConfig:
    """A preset by name; old names still work, with a :class:`DeprecationWarning`."""
    if name in PRESET_ALIASES:
        new = PRESET_ALIASES[name]
        warnings.warn(f"preset '{name}' is now called '{new}'", DeprecationWarning, stacklevel=2)
        name = new
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; valid: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]


def config_fields() -> tuple[Any, ...]:
    """The dataclass fields, for building CLI options and UI controls."""
    return fields(StyleConfig)


def provenance(config: StyleConfig, weights_label: str) -> dict[str, str]:
    """PNG text chunks recording which weights and settings made an image."""
    return {"stylecore:weights": weights_label, "stylecore:config": json.dumps(asdict(config))}
