"""Style statistics beyond the Gram matrix: mean/covariance (2-Wasserstein) and sliced Wasserstein.

With an identity "extractor" (the pixels are the only feature layer) the statistics are those of the
colours, which makes the difference between the losses visible without trained weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pytest
import torch
from torch import Tensor

from stylecore import StyleConfig
from stylecore.objective.functional import (
    feature_moments,
    gram_matrix,
    relative_error,
    resample_sorted,
    sliced_wasserstein,
    sqrtm_newton_schulz,
    style_loss,
    wasserstein2_gaussian,
)
from stylecore.objective.style import STATISTICS, StyleStatistic
from stylecore.objective.terms import StyleTerm, default_terms
from stylecore.optim.engine import PixelOptimizer, WholeImage, set_targets

PIXELS = ("conv1_1",)  # the name the identity extractor answers to


def identity(image: Tensor, layers: object = None) -> dict[str, Tensor]:
    return {PIXELS[0]: image}


def _bimodal_style(seed: int = 0) -> Tensor:
    """Each channel is dark or bright, never mid-grey: a histogram a Gram matrix cannot describe."""
    generator = torch.Generator().manual_seed(seed)
    modes = (torch.rand(1, 3, 48, 48, generator=generator) > 0.5).float()
    return (0.1 + 0.8 * modes + 0.03 * torch.randn(1, 3, 48, 48, generator=generator)).clamp(0, 1)


def _optimise(style_loss: str, style: Tensor, steps: int = 300) -> Tensor:
    config = StyleConfig(size=32, device="cpu", style_loss=style_loss, seed=0, lr=0.02, style_layers=PIXELS)
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    terms = set_targets([t for t in default_terms(config) if t.name == "style"], identity, noise, [style], config)
    optimizer = PixelOptimizer(noise, WholeImage(identity, terms), config)  # type: ignore[arg-type]
    for _ in range(steps):
        optimizer.step()
    return optimizer.image().detach()


def histogram_distance(image: Tensor, style: Tensor) -> float:
    """Mean over channels of the 1-Wasserstein distance between the two colour histograms."""
    ours = image.flatten(2)[0].sort(dim=1).values
    theirs = resample_sorted(style.flatten(2)[0].sort(dim=1).values, ours.shape[1])
    return float((ours - theirs).abs().mean())


def test_sqrtm_matches_an_eigen_decomposition() -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(2, 16, 16, generator=generator, dtype=torch.float64)
    spd = a @ a.transpose(1, 2) + 0.1 * torch.eye(16, dtype=torch.float64)
    values, vectors = torch.linalg.eigh(spd)
    expected = vectors @ torch.diag_embed(values.sqrt()) @ vectors.transpose(1, 2)
    torch.testing.assert_close(sqrtm_newton_schulz(spd, iterations=40), expected, rtol=1e-6, atol=1e-6)


def test_sliced_distance_is_zero_for_the_same_distribution_at_another_size() -> None:
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    directions = torch.eye(3)
    target_sorted = (directions.T @ image.flatten(2)[0]).sort(dim=-1).values
    assert float(sliced_wasserstein(image, target_sorted, directions)) < 1e-10
    bigger = torch.nn.functional.interpolate(image, scale_factor=2, mode="nearest")  # 4x the positions
    assert (
        float(sliced_wasserstein(image, (directions.T @ bigger.flatten(2)[0]).sort(dim=-1).values, directions)) < 1e-3
    )


def test_sliced_reproduces_the_colour_histogram_far_better_than_gram() -> None:
    style = _bimodal_style()
    gram = histogram_distance(_optimise("gram", style), style)
    sliced = histogram_distance(_optimise("sliced", style), style)
    print(f"histogram distance to the style: gram {gram:.4f}, sliced {sliced:.4f}")
    assert sliced < 0.35 * gram, (gram, sliced)


def test_meancov_matches_mean_and_covariance_better_than_gram() -> None:
    generator = torch.Generator().manual_seed(3)
    mix = torch.tensor([[0.20, 0.0, 0.0], [0.15, 0.05, 0.0], [-0.10, 0.0, 0.08]])
    style = (torch.tensor([0.6, 0.4, 0.3]).view(1, 3, 1, 1) + torch.einsum(
        "ij,bjhw->bihw", mix, torch.randn(1, 3, 48, 48, generator=generator))).clamp(0, 1)  # fmt: skip
    target_mean, target_cov = feature_moments(style)

    def error(image: Tensor) -> float:
        mean, cov = feature_moments(image)
        return float((mean - target_mean).norm() + (cov - target_cov).norm() / target_cov.norm())

    gram, meancov = error(_optimise("gram", style)), error(_optimise("meancov", style))
    print(f"mean + relative covariance error: gram {gram:.4f}, meancov {meancov:.4f}")
    assert meancov < 0.5 * gram, (gram, meancov)


@pytest.mark.parametrize("kind", ["meancov", "sliced"])
def test_blended_styles_mix_their_statistics(kind: str) -> None:
    dark, bright = torch.full((1, 3, 16, 16), 0.2), torch.full((1, 3, 16, 16), 0.8)
    term = StyleTerm(STATISTICS[kind], PIXELS, 1.0)
    term.set_targets(identity, dark, [dark, bright], [0.5, 0.5])
    mixture = torch.cat([dark[..., :8], bright[..., 8:]], dim=-1)  # half and half: the mixture itself
    assert float(term(identity(mixture), mixture)) < 1e-3
    assert float(term(identity(dark), dark)) > 10 * float(term(identity(mixture), mixture))


@pytest.mark.parametrize("style_loss", ["meancov", "sliced"])
def test_new_style_losses_run_on_vgg_with_scales(extractor, content, style, style_loss: str) -> None:
    from stylecore import stylize

    config = StyleConfig(size=64, iterations=6, scales=2, device="cpu", save_every=0, style_loss=style_loss)
    result = stylize(content, [style, style.flip(-1)], config, extractor=extractor)
    assert len(result.history) == 6 and all(torch.isfinite(torch.tensor(h.total)) for h in result.history)
    assert result.history[-1].total < result.history[0].total


# One StyleTerm for every statistic: the removed GramStyleTerm, MeanCovStyleTerm and SlicedStyleTerm's
# values, recomputed here from the pure functions, are what a StyleTerm without regions gives.

LAYERS = ("conv1_1", "conv2_1")


def _images() -> tuple[Tensor, list[Tensor]]:
    generator = torch.Generator().manual_seed(7)
    image = torch.rand(1, 3, 48, 64, generator=generator)
    return image, [torch.rand(1, 3, 56, 40, generator=generator), torch.rand(1, 3, 40, 48, generator=generator)]


def _old_values(name: str, extract, image: Tensor, styles: list[Tensor], shares: tuple[float, ...]) -> list[float]:
    """Two steps of the old unmasked term (weight 1): zero shares skipped, blends mixed per statistic."""
    ours = extract(image, LAYERS)
    theirs = [(share, extract(s, LAYERS)) for s, share in zip(styles, shares, strict=True) if share]
    if name == "gram":
        targets = {n: sum(share * gram_matrix(f[n]) for share, f in theirs) for n in LAYERS}
        return 2 * [float(style_loss({n: gram_matrix(ours[n]) for n in LAYERS}, targets))]
    if name == "meancov":
        losses = []
        for n in LAYERS:
            moments = [(share, *feature_moments(f[n])) for share, f in theirs]
            mean = sum(share * m for share, m, _ in moments)
            second = sum(share * (c + m.unsqueeze(2) @ m.unsqueeze(1)) for share, m, c in moments)
            cov = second - mean.unsqueeze(2) @ mean.unsqueeze(1)
            losses.append(wasserstein2_gaussian(*feature_moments(ours[n]), mean, cov, sqrtm_newton_schulz(cov)))
        return 2 * [float(torch.stack(losses).mean())]
    assert name == "sliced" and len(theirs) == 1
    generator, values = torch.Generator().manual_seed(0), []
    for _ in range(2):  # new directions every step, drawn per layer from the seeded generator
        losses = []
        for n in LAYERS:
            target = theirs[0][1][n][0].flatten(1)  # (C, N)
            directions = torch.randn(target.shape[0], target.shape[0], generator=generator)
            directions = directions / directions.norm(dim=0, keepdim=True)
            sorted_target = (directions.T @ target).sort(dim=-1).values
            losses.append(sliced_wasserstein(ours[n], sorted_target, directions))
        values.append(float(torch.stack(losses).mean()))
    return values


CASES = [("gram", (0.7, 0.3)), ("meancov", (0.7, 0.3)), ("gram", (1.0, 0.0)), ("meancov", (1.0, 0.0)),
         ("sliced", (1.0, 0.0))]  # fmt: skip


@pytest.mark.parametrize(("name", "shares"), CASES)
def test_no_regions_and_a_full_mask_give_the_old_unmasked_values(extractor, name: str, shares) -> None:
    image, styles = _images()
    with torch.no_grad():
        expected = _old_values(name, extractor, image, styles, shares)
        features = extractor(image, LAYERS)
        whole = StyleTerm(STATISTICS[name], LAYERS, 1.0)  # no regions: one region, the full mask
        whole.set_targets(extractor, image, styles, list(shares))
        assert [float(whole(features, image)) for _ in range(2)] == pytest.approx(expected, rel=1e-5)
        if shares[1] == 0:  # one style: the same again as a region given as an all-white mask
            full = StyleTerm(STATISTICS[name], LAYERS, 1.0, masks=[torch.ones(1, 1, 48, 64)])
            full.set_targets(extractor, image, styles[:1], [1.0])
            assert [float(full(features, image)) for _ in range(2)] == pytest.approx(expected, rel=1e-5)
    if name == "sliced":
        assert expected[0] != pytest.approx(expected[1], rel=1e-3)  # the directions were redrawn


def test_a_zero_share_style_is_never_extracted() -> None:
    seen: list[Tensor] = []

    def spy(image: Tensor, layers: object = None) -> dict[str, Tensor]:
        seen.append(image)
        return identity(image)

    dark, bright = torch.full((1, 3, 8, 8), 0.2), torch.full((1, 3, 8, 8), 0.8)
    for masks in (None, [torch.ones(8, 8)[None, None], None]):
        seen.clear()
        StyleTerm(STATISTICS["gram"], PIXELS, 1.0, masks).set_targets(spy, dark, [dark, bright], [1.0, 0.0])
        assert len(seen) == 1 and seen[0] is dark


def test_targets_hold_no_graph_even_when_set_with_grad_on() -> None:
    style = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    for name in STATISTICS:
        term = StyleTerm(STATISTICS[name], PIXELS, 1.0)
        term.set_targets(identity, style, [style], [1.0])
        assert not any(t.requires_grad for by_region in term.targets.values() for s in by_region.values() for t in s)


def test_the_style_loss_choices_are_the_registry() -> None:
    from stylecore.config import choices_of

    assert choices_of("style_loss") == tuple(STATISTICS)  # --style-loss, the app's choices and the config check


class ChannelMean(StyleStatistic):
    """A made-up statistic, the mean feature per channel: three methods, nothing else anywhere."""

    def __init__(self) -> None:
        self.calls = 0

    def represent(self, features: Tensor, mask: Tensor | None) -> tuple[Tensor, ...]:
        self.calls += 1
        weights = torch.ones_like(features[:, :1]) if mask is None else mask
        return ((features * weights).sum(dim=(2, 3)) / weights.sum(),)  # (1, C)

    def mix(self, parts: Sequence[tuple[float, tuple[Tensor, ...]]]) -> tuple[Tensor, ...]:
        return (sum(share * mean for share, (mean,) in parts),)

    def score(self, stat: tuple[Tensor, ...], target: tuple[Tensor, ...]) -> Tensor:
        return relative_error(stat[0], target[0])


def test_a_new_statistic_is_one_class_with_regions_and_tiles_for_free(monkeypatch, extractor, content, style) -> None:
    import stylecore.config
    from stylecore import stylize

    toy = ChannelMean()
    monkeypatch.setitem(STATISTICS, "channelmean", toy)  # what @register("channelmean") does
    monkeypatch.setattr(stylecore.config, "StyleLoss", Literal[(*STATISTICS,)])  # the name in config's Literal
    config = StyleConfig(size=64, iterations=4, style_loss="channelmean", weights="random:0", save_every=0,
                         content_layers=("conv2_1",), style_layers=LAYERS)  # fmt: skip
    styles, mask = [style, style.flip(-1)], torch.zeros(1, 1, 48, 64)
    mask[..., :32] = 1
    for regions in (None, [mask, None]):
        plain = stylize(content, styles, config, extractor=extractor, regions=regions)
        assert plain.history[-1]["style"] < plain.history[0]["style"] and toy.calls > 0
        tiled = stylize(content, styles, config.with_overrides(tile=32), extractor=extractor, regions=regions)
        assert [h.total for h in tiled.history] == pytest.approx([h.total for h in plain.history], rel=1e-5)
