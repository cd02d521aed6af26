"""Style statistics beyond the Gram matrix: mean/covariance (2-Wasserstein) and sliced Wasserstein.

With an identity "extractor" (the pixels are the only feature layer) the statistics are those of the
colours, which makes the difference between the losses visible without trained weights.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from stylecore import StyleConfig
from stylecore.objective.functional import feature_moments, resample_sorted, sliced_wasserstein, sqrtm_newton_schulz
from stylecore.objective.terms import MeanCovStyleTerm, SlicedStyleTerm, default_terms
from stylecore.optim.engine import PixelOptimizer, set_targets

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
    optimizer = PixelOptimizer(noise, identity, terms, config)  # type: ignore[arg-type]
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


@pytest.mark.parametrize("kind", [MeanCovStyleTerm, SlicedStyleTerm])
def test_blended_styles_mix_their_statistics(kind: type) -> None:
    dark, bright = torch.full((1, 3, 16, 16), 0.2), torch.full((1, 3, 16, 16), 0.8)
    term = kind(1.0, PIXELS)
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
