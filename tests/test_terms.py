"""Loss terms as units: targets set once, values weighted, and a new term plugs in without touching the loop."""

from __future__ import annotations

import math
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


@pytest.fixture
def registry():
    """The term registry, restored after the test: a term registered here stays out of every other test."""
    from stylecore import TERMS

    saved = dict(TERMS)
    yield TERMS
    TERMS.clear()
    TERMS.update(saved)


def test_a_registered_term_is_one_class_seen_by_runs_tiled_and_untiled_and_by_the_page(registry, content) -> None:
    """One class, no other edit: its weight comes from the config, it runs whole and in tiles, and the page
    shows its slider and its line on the plot."""
    from stylecore import StyleConfig, WeightControl, Window, crop, register_term, stylize

    @register_term("grey", color="#6b7280", weight=3.0,
                   control=WeightControl("Greyness", -2, 2, "pull towards mid grey, as a power of ten."))  # fmt: skip
    @dataclass
    class GreyTerm:
        """Mean squared distance of the pixels from mid grey: a sum over pixels, so a tile adds its share."""

        weight: float
        layers: tuple[str, ...] = ()
        name: str = "grey"

        def set_targets(self, extract, content, styles, shares) -> None:
            return None

        def __call__(self, features, image: Tensor) -> Tensor:
            return self.weight * (image - 0.5).pow(2).mean()

        def tile_value(self, own, pixels: Tensor, window: Window, index: int) -> Tensor:
            ours = crop(pixels, window.in_crop())
            return self.weight * (ours - 0.5).pow(2).sum() / (pixels.shape[1] * window.size[0] * window.size[1])

    style = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(2))
    config = StyleConfig(size=64, iterations=2, weights="random:0", save_every=0, device="cpu",
                         content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"))  # fmt: skip
    whole = stylize(content, style, config)
    tiled = stylize(content, style, config.with_overrides(tile=32))
    assert list(whole.history[0].values) == ["content", "style", "tv", "grey"]
    assert whole.history[0]["grey"] == pytest.approx(3.0 * float((content - 0.5).pow(2).mean()), rel=1e-5)
    assert [h["grey"] for h in tiled.history] == pytest.approx([h["grey"] for h in whole.history], rel=1e-5)
    heavier = stylize(content, style, config.with_overrides(grey_weight=30.0))
    assert heavier.history[0]["grey"] == pytest.approx(10 * whole.history[0]["grey"], rel=1e-5)

    from demo.controls import Number
    from demo.hosting import Hardware
    from demo.settings import by_name, check, defaults, table

    cpu = Hardware("cpu", 512, 200 * 256**2, 1, 8, 2, 100, 256, 300.0)
    settings = table(cpu)
    slider = by_name(settings)["log_grey"]
    assert isinstance(slider.control, Number) and slider.control.label == "Greyness"
    assert defaults(settings)["log_grey"] == pytest.approx(math.log10(3.0))
    raw = defaults(settings) | {"log_grey": 1.0}
    assert check(settings, raw, cpu, two_styles=False).config.term_weight("grey", 0.0) == pytest.approx(10.0)
