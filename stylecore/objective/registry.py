"""What a loss term is, and the one place a built-in term is registered with everything asked of it.

A term is anything with a ``name``, the ``layers`` it reads, a ``set_targets`` that computes its
target once (before the loop, without gradients), and a call that returns its weighted value from
the generated image's features (:class:`LossTerm`; after pystiche's criteria). Passed to
``stylize(terms=...)`` it is added to the run. Registered with :func:`register_term`, it is one of
the default terms: its weight comes from the config (:meth:`stylecore.config.StyleConfig.term_weight`),
the loss plot draws it in its colour, and the page shows its weight as a slider (``demo/settings.py``).
Its tiled form is the class's own ``tile_value`` (or ``tile_statistics``/``tile_loss``; see
:mod:`stylecore.objective.tile_terms`), as a style statistic carries its ``partial``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from torch import Tensor

from ..config import StyleConfig
from ..errors import ConfigError
from .regions import Mask

#: Anything called like the torch extractor: ``(image, layers) -> {layer: features}``.
FeatureFn = Callable[[Tensor, Sequence[str]], dict[str, Tensor]]


class LossTerm(Protocol):
    """One weighted term of the objective."""

    name: str
    layers: tuple[str, ...]

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        """Compute the fixed target from the content and style images (``shares`` sum to 1)."""

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        """The weighted value for the generated ``image`` and its ``features``."""


#: ``(config, weight, regions, style_regions) -> term``: how a registered term is built for a run.
Builder = Callable[[StyleConfig, float, "Sequence[Mask | None] | None", "Sequence[Mask | None]"], LossTerm]


@dataclass(frozen=True)
class WeightControl:
    """A term's weight on the page: a slider over its power of ten."""

    label: str  # the slider's words, e.g. "How much style"
    low: float  # log10 of the smallest weight offered
    high: float  # log10 of the largest
    help: str  # one line: the API's description of the parameter
    hint: str = ""  # under the slider: what moving it right does, in plain words
    param: str = ""  # the app's parameter name; default ``log_<term>``
    featured: bool = False  # among the few settings beside Run; else folded under "More settings"


@dataclass(frozen=True)
class TermKind:
    """A registered term: how a run builds it, and how front ends show it."""

    name: str
    build: Builder
    weight: float  # default weight, where StyleConfig has no ``<name>_weight`` field of its own
    color: str  # its line on the loss plot
    legend: str  # its name under the plot
    control: WeightControl | None  # its slider on the page; None: not on the page

    @property
    def field(self) -> str:
        """The config key of its weight: a field (``content_weight``) or a ``term_weights`` entry."""
        return f"{self.name}_weight"

    def make(
        self, config: StyleConfig, regions: Sequence[Mask | None] | None, style_regions: Sequence[Mask | None]
    ) -> LossTerm:
        return self.build(config, config.term_weight(self.name, self.weight), regions, style_regions)


#: Term name -> its registration, in the order terms are summed and reported.
TERMS: dict[str, TermKind] = {}

_T = TypeVar("_T", bound=type)


def register_term(
    name: str, *, color: str, weight: float = 0.0, control: WeightControl | None = None, legend: str = ""
) -> Callable[[_T], _T]:
    """Class decorator: every run gets the term, weighted by ``config.term_weight(name, weight)``.

    The class is built with ``cls.from_config(config, weight, regions, style_regions)`` if it has one,
    else ``cls(weight=weight)``; it must take ``name`` as its ``name``.
    """

    def add_to_registry(cls: _T) -> _T:
        if name in TERMS or name == "total":
            raise ConfigError(f"loss term name {name!r} is taken; register the term under another name")
        build: Builder = getattr(cls, "from_config", None) or (lambda config, weight, *_: cls(weight=weight))
        TERMS[name] = TermKind(name, build, weight, color, legend or name, control)
        return cls

    return add_to_registry


def check_term_weights(config: StyleConfig) -> None:
    """Refuse a ``term_weights`` entry that names no registered term (the config cannot see the registry)."""
    unknown = sorted(set(config.term_weight_names()) - set(TERMS))
    if unknown:
        raise ConfigError(f"term_weights names an unknown loss term {unknown[0]!r}; registered: {', '.join(TERMS)}")


def blend_shares(count: int, blend: Sequence[float] | None) -> list[float]:
    """Per-style shares summing to 1 (equal when ``blend`` is None)."""
    if blend is None:
        return [1.0 / count] * count
    if len(blend) != count:
        raise ConfigError(f"style_blend has {len(blend)} weights for {count} style images")
    total = sum(blend)
    return [w / total for w in blend]
