"""Regions: each style in its own part of the picture (Gatys et al. 2017, spatial control)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import Tensor

from stylecore import ConfigError, StyleConfig, stylize
from stylecore.objective.regions import at_layer, region_shares
from stylecore.objective.style import STATISTICS
from stylecore.objective.terms import StyleTerm
from stylecore.optim.engine import PixelOptimizer, WholeImage, build_terms, set_targets

from .conftest import EXAMPLES

PIXELS = ("conv1_1",)


def identity(image: Tensor, layers: object = None) -> dict[str, Tensor]:
    return {PIXELS[0]: image}


def flat(rgb: tuple[float, float, float], size: int = 16) -> Tensor:
    return torch.tensor(rgb).view(1, 3, 1, 1).expand(1, 3, size, size).clone()


def half(width: int = 32, soft: int = 0) -> Tensor:
    """1 on the left half, 0 on the right, with a linear ramp of ``soft`` columns between."""
    columns = torch.zeros(width)
    columns[: width // 2 - soft // 2] = 1
    if soft:
        columns[width // 2 - soft // 2 : width // 2 + soft // 2] = torch.linspace(1, 0, soft)
    return columns.expand(1, 1, width, width).clone()


def _paint(masks: list[Tensor | None], statistic: str = "gram", steps: int = 300) -> Tensor:
    config = StyleConfig(size=32, device="cpu", style_layers=PIXELS, lr=0.02)
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    red, blue = flat((0.9, 0.1, 0.1)), flat((0.1, 0.2, 0.9))
    term = StyleTerm(STATISTICS[statistic], PIXELS, 1.0, masks)
    set_targets([term], identity, noise, [red, blue], config)
    optimizer = PixelOptimizer(noise, WholeImage(identity, [term]), config)  # type: ignore[arg-type]
    for _ in range(steps):
        optimizer.step()
    return optimizer.image().detach()


def test_shares_sum_to_one_and_defaults_fill_the_rest() -> None:
    left = half()
    shares = region_shares([None, left], 32, 32)  # style 1 is the default: it gets the right half
    torch.testing.assert_close(shares.sum(0), torch.ones(1, 32, 32))
    assert float(shares[1, 0, :, :8].min()) == 1.0 and float(shares[0, 0, :, 24:].min()) == 1.0
    both = region_shares([left, left], 32, 32)  # overlapping regions share the pixel
    assert float(both[0, 0, 0, 0]) == pytest.approx(0.5) and float(both[0, 0, 0, 31]) == pytest.approx(1.0)  # rest
    assert at_layer(shares, 4, 4).shape == (2, 1, 4, 4)


@pytest.mark.parametrize("statistic", ["gram", "meancov", "sliced"])
def test_each_half_takes_its_own_style(statistic: str) -> None:
    image = _paint([half(), None], statistic)
    left, right = image[..., :, :12].mean(dim=(2, 3))[0], image[..., :, 20:].mean(dim=(2, 3))[0]
    print(f"left half {left.tolist()}, right half {right.tolist()}")
    torch.testing.assert_close(left, torch.tensor([0.9, 0.1, 0.1]), atol=0.1, rtol=0)
    torch.testing.assert_close(right, torch.tensor([0.1, 0.2, 0.9]), atol=0.1, rtol=0)


@pytest.mark.parametrize("statistic", ["gram", "meancov"])  # sliced rounds edges to whole layer cells
def test_soft_edges_blend(statistic: str) -> None:
    image = _paint([half(soft=16), None], statistic)
    reds = image[0, 0].mean(dim=0)  # red channel by column
    assert reds[2] > 0.8 and reds[-3] < 0.2
    assert 0.2 < float(reds[15:17].mean()) < 0.8  # the ramp's middle is neither style


def test_a_region_term_only_feels_pixels_near_its_region(extractor) -> None:
    """VGG with random weights at shallow layers: no gradient far outside the region."""
    config = StyleConfig(size=64, device="cpu", style_layers=("conv1_1", "conv2_1"))
    content = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    left = half(64)
    terms = build_terms(extractor, content, [flat((0.9, 0.1, 0.1)), flat((0.1, 0.2, 0.9))], config, [left, None])
    style = next(t for t in terms if t.name == "style")
    assert isinstance(style, StyleTerm)
    style.factors = {0: style.factors[0]}  # keep only region 1's part of the term
    image = content.clone().requires_grad_(True)
    style(extractor(image, config.style_layers), image).backward()
    grad = image.grad.abs().sum(dim=(0, 1))  # (H, W)
    assert float(grad[:, :28].sum()) > 0
    assert float(grad[:, 40:].sum()) == 0.0  # conv2_1 sees 6 px around a pixel: beyond that, nothing


@pytest.mark.parametrize("style_loss", ["gram", "meancov", "sliced"])
def test_regions_run_with_scales_colours_and_both_optimizers(extractor, content, style, style_loss: str) -> None:
    mask = half(64)[..., :48, :]  # same aspect as the 48x64 content
    for optimizer in ("adam", "lbfgs"):
        config = StyleConfig(size=64, iterations=4, scales=2, device="cpu", save_every=0, optimizer=optimizer,
                             preserve_colors="luminance", style_loss=style_loss)  # fmt: skip
        result = stylize(content, [style, style.flip(-1)], config, extractor=extractor, regions=[mask, None])
        assert len(result.history) == 4 and result.image.shape == content.shape


@pytest.mark.parametrize(
    ("regions", "message"),
    [
        ([torch.zeros(8, 8), None], "region 1 is all black"),
        ([torch.ones(8, 8)], "1 regions for 2 style images"),
        ([None, None], "regions need at least one mask"),
    ],
)
def test_bad_regions_are_one_clear_error(extractor, content, style, regions, message) -> None:
    config = StyleConfig(size=64, iterations=1, device="cpu", save_every=0)
    with pytest.raises(ConfigError, match=message):
        stylize(content, [style, style], config, extractor=extractor, regions=regions)


def test_a_style_region_picks_the_part_of_the_style_to_copy() -> None:
    config = StyleConfig(size=32, device="cpu", style_layers=PIXELS, lr=0.02)
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    two_colours = torch.cat([flat((0.9, 0.1, 0.1), 32)[..., :16], flat((0.1, 0.2, 0.9), 32)[..., 16:]], dim=-1)
    everywhere = torch.ones(1, 1, 32, 32)
    term = StyleTerm(STATISTICS["gram"], PIXELS, 1.0, [everywhere], [half()])  # only the style's red half counts
    set_targets([term], identity, noise, [two_colours], config)
    optimizer = PixelOptimizer(noise, WholeImage(identity, [term]), config)  # type: ignore[arg-type]
    for _ in range(300):
        optimizer.step()
    mean = optimizer.image().detach().mean(dim=(2, 3))[0]
    torch.testing.assert_close(mean, torch.tensor([0.9, 0.1, 0.1]), atol=0.1, rtol=0)


def test_style_regions_need_regions(extractor, content, style) -> None:
    config = StyleConfig(size=64, iterations=1, device="cpu", save_every=0)
    with pytest.raises(ConfigError, match="style regions need content regions too"):
        stylize(content, [style], config, extractor=extractor, style_regions=[half(56)])


def _region_value(blend: tuple[float, float] | None, image: Tensor) -> float:
    config = StyleConfig(size=32, device="cpu", style_layers=PIXELS, style_blend=blend)
    term = StyleTerm(STATISTICS["gram"], PIXELS, 1.0, [half(), None])
    set_targets([term], identity, image, [flat((0.9, 0.1, 0.1)), flat((0.1, 0.2, 0.9))], config)
    return float(term(identity(image), image))


def test_the_blend_weighs_each_region_by_its_style_share() -> None:
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    equal, left, right = _region_value(None, image), _region_value((1, 0), image), _region_value((0, 1), image)
    assert _region_value((2, 2), image) == pytest.approx(equal)  # an equal blend is the unblended term
    assert left != pytest.approx(right)  # (1, 0): only the left region's style counts; (0, 1): only the right's
    assert left + right == pytest.approx(2 * equal)  # shares scaled so they average 1 over the styles
    assert _region_value((3, 1), image) == pytest.approx(0.5 * (3 * left + right) / 2)


def test_the_blend_changes_a_run_with_regions(extractor, content, style) -> None:
    config = StyleConfig(size=32, iterations=3, weights="random:0", style_blend=(1.0, 0.0))
    styles, regions = [style, style.flip(-1)], [half(64)[..., :48, :], None]
    one = stylize(content, styles, config, extractor=extractor, regions=regions).image
    other = stylize(content, styles, replace(config, style_blend=(0.0, 1.0)), extractor=extractor, regions=regions)
    assert not torch.equal(one, other.image)


BLACK = "is all black: its style would apply nowhere"


def test_an_all_black_mask_is_refused_with_one_sentence_everywhere(extractor, content, style, tmp_path, capsys):
    from PIL import Image

    from demo.inputs import Upload, read_region
    from stylecore.cli.main import main

    black = tmp_path / "black.png"
    Image.new("L", (64, 48), 0).save(black)
    with pytest.raises(ConfigError, match=f"region 1 {BLACK}"):  # the library
        stylize(content, [style, style], StyleConfig(size=32, iterations=1), extractor=extractor,
                regions=[torch.zeros(48, 64), None])  # fmt: skip
    with pytest.raises(ConfigError, match=f"black.png {BLACK}"):  # the app, an uploaded mask
        read_region(Upload(black, "black.png", (64, 48)), painted=False)
    Image.new("RGBA", (64, 48), (0, 0, 0, 0)).save(tmp_path / "layer.png")  # the app: nothing painted is no mask
    assert read_region(Upload(tmp_path / "layer.png", "layer.png", (64, 48)), painted=True) is None
    argv = [str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), str(EXAMPLES / "hubble.jpg"),
            "--regions", f"{black},-", "-o", str(tmp_path / "o.png"), "--weights", "random"]  # fmt: skip
    assert main(argv) == 1  # the command line
    assert f"black.png {BLACK}" in capsys.readouterr().err


def test_region_shares_reach_each_layer_size_once_per_scale(monkeypatch) -> None:
    """The shares at a layer (and which regions are empty there, a host sync) are fixed for a scale."""
    import stylecore.objective.terms as terms

    sizes: list[tuple[int, int]] = []

    def counted(shares: Tensor, height: int, width: int) -> Tensor:
        sizes.append((height, width))
        return at_layer(shares, height, width)

    monkeypatch.setattr(terms, "at_layer", counted)
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    term = StyleTerm(STATISTICS["gram"], PIXELS, 1.0, [half(), None])
    set_targets([term], identity, image, [flat((0.9, 0.1, 0.1)), flat((0.1, 0.2, 0.9))], StyleConfig(size=32))
    values = [float(term(identity(image), image)) for _ in range(3)]
    assert sizes == [(32, 32)] and values[0] == values[2] > 0
