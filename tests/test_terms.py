"""Loss terms as units: targets set once, values weighted, and a new term plugs in without touching the loop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor

from stylecore import StyleConfig
from stylecore.objective.style import STATISTICS, Gram
from stylecore.objective.terms import TERM_NAMES, ContentTerm, StyleTerm, TotalVariationTerm, default_terms
from stylecore.optim.engine import PixelOptimizer, WholeImage, objective, set_targets

CONFIG = StyleConfig(size=64, device="cpu", content_weight=2.0, style_weight=3.0, tv_weight=0.5)


def test_default_terms_follow_the_config() -> None:
    terms = default_terms(CONFIG)
    assert [t.name for t in terms] == list(TERM_NAMES) == ["content", "style", "tv"]
    content, style, tv = terms
    assert isinstance(content, ContentTerm) and content.weight == 2.0 and content.layers == CONFIG.content_layers
    assert isinstance(style, StyleTerm) and style.weight == 3.0 and style.layers == CONFIG.style_layers
    assert isinstance(style.statistic, Gram) and style.masks is None
    assert isinstance(tv, TotalVariationTerm) and tv.weight == 0.5 and tv.layers == ()


def test_content_term_of_its_own_target_is_zero(extractor, content, style) -> None:
    terms = set_targets(default_terms(CONFIG), extractor, content, [style], CONFIG)
    values = objective(extractor(content, CONFIG.layers), content, terms)
    assert values["content"].item() < 1e-6
    assert values["style"].item() > 0 and values["tv"].item() > 0
    assert torch.isclose(values["total"], values["content"] + values["style"] + values["tv"])


@dataclass
class MeanColorTerm:
    """A made-up term: pull the image's mean color to the style's. Only the terms list changes."""

    weight: float
    layers: tuple[str, ...] = ()
    name: str = "color"
    target: Tensor | None = None

    def set_targets(self, extract, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]) -> None:
        self.target = sum(share * s.mean(dim=(2, 3)) for s, share in zip(styles, shares, strict=True))

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        assert self.target is not None
        return self.weight * (image.mean(dim=(2, 3)) - self.target).pow(2).sum()


def test_a_new_term_plugs_into_the_optimizer(extractor, content) -> None:
    red = torch.zeros(1, 3, 32, 32)
    red[:, 0] = 1.0
    terms = set_targets([MeanColorTerm(weight=10.0)], extractor, content, [red], CONFIG)
    optimizer = PixelOptimizer(content, WholeImage(extractor, terms), CONFIG.with_overrides(lr=0.05))
    losses = [optimizer.step() for _ in range(20)]
    assert list(losses[0].values) == ["color"] and optimizer.layers == ()  # no VGG pass needed
    assert losses[-1].total < 0.2 * losses[0].total
    assert optimizer.image()[:, 0].mean() > content[:, 0].mean()  # redder


def test_two_terms_of_one_name_are_refused_not_merged(extractor, content, style) -> None:
    from stylecore import ConfigError, stylize

    config = StyleConfig(size=32, iterations=1, weights="random:0")
    features = extractor(content, CONFIG.layers)
    with pytest.raises(ConfigError, match="loss term name 'tv' is taken"):
        objective(features, content, [TotalVariationTerm(1.0), TotalVariationTerm(100.0)])
    with pytest.raises(ConfigError, match="loss term name 'tv' is taken"):  # at plan time, before any step
        stylize(content, style, config, extractor=extractor, terms=[TotalVariationTerm(100.0)])
    with pytest.raises(ConfigError, match="loss term name 'style' is taken"):  # it replaced the default style term
        stylize(content, style, config, extractor=extractor, terms=[StyleTerm(STATISTICS["gram"], ("conv1_1",), 1.0)])
    renamed = TotalVariationTerm(100.0, name="tv_strong")
    values = objective(features, content, [TotalVariationTerm(1.0), renamed])
    torch.testing.assert_close(values["total"], values["tv"] + values["tv_strong"])
    assert float(values["tv_strong"]) == pytest.approx(100 * float(values["tv"]), rel=1e-5)
