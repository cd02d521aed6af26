"""Tiled steps (stylecore.optim.tiling) give the untiled objective and gradient, to float rounding."""

from __future__ import annotations

import copy

import pytest
import torch

from stylecore import StyleConfig, stylize, vgg19_extractor
from stylecore.errors import ConfigError
from stylecore.objective.registry import blend_shares
from stylecore.objective.terms import TemporalTerm, default_terms
from stylecore.optim.engine import PixelOptimizer, WholeImage, build_terms, objective
from stylecore.optim.scale import build_objective
from stylecore.optim.tiling import CONTENT_CACHE_BYTES, TiledObjective, halo_for, layer_stride, tile_grid

SHALLOW = ("conv1_1", "conv2_1", "conv3_1")  # halo 12: small tiles still have an inside
LAYERS = ("conv1_1", "relu1_1", "conv2_1", "relu2_1", "conv3_1", "relu3_1", "conv4_1")


@pytest.fixture(scope="module")
def shallow() -> torch.nn.Module:
    return vgg19_extractor(layers=LAYERS, weights="random:0")


def _images(height: int, width: int, count: int = 1, seed: int = 0) -> tuple[torch.Tensor, list[torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    content = torch.rand(1, 3, height, width, generator=generator)
    styles = [torch.rand(1, 3, 64 + 16 * i, 80, generator=generator) for i in range(count)]
    return content, styles


def _tiled(extractor, content, styles, config, regions=None, extra=(), cache_bytes=CONTENT_CACHE_BYTES):
    """The tiled objective of ``config``'s terms and ``extra``, its targets set (as build_objective does)."""
    terms = [*default_terms(config, regions), *extra]
    tiled = TiledObjective(extractor, terms, tuple(content.shape[-2:]), config.tile, cache_bytes=cache_bytes)
    tiled.set_targets(content, styles, blend_shares(len(styles), config.style_blend))
    return tiled


def _untiled(extractor, image, terms) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    pixels = image.clone().requires_grad_(True)
    layers = [n for t in terms for n in t.layers]
    values = objective(extractor(pixels, layers) if layers else {}, pixels, terms)
    values["total"].backward()
    return {k: v.detach() for k, v in values.items()}, pixels.grad


@pytest.fixture(scope="module")
def shallow64(shallow) -> torch.nn.Module:
    """Float64: mean/covariance's matrix square roots amplify fp32 rounding of a near-singular
    covariance (conv1_1's has rank <= 27 of 64) to 1e-4 in the *untiled* loss itself, so the
    method's exactness is checked where rounding is out of the way."""
    return copy.deepcopy(shallow).double()


def _compare(extractor, config, height=96, width=112, count=1, regions=None, extra=()):
    content, styles = _images(height, width, count)
    image = (content + 0.2 * torch.rand(content.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    dtype = extractor.mean.dtype
    content, image, styles = content.to(dtype), image.to(dtype), [s.to(dtype) for s in styles]
    regions = None if regions is None else [None if m is None else m.to(dtype) for m in regions]
    whole = build_terms(extractor, content, styles, config, regions, (), extra)
    values, grad = _untiled(extractor, image, whole)
    tiled_values, tiled_grad = _tiled(extractor, content, styles, config, regions, extra).evaluate(image)
    error = ((tiled_grad - grad).norm() / grad.norm()).item()
    for name, value in values.items():
        assert tiled_values[name].item() == pytest.approx(value.item(), rel=1e-5), name
    return error


def _config(**changes) -> StyleConfig:
    base = dict(content_layers=("conv2_1",), style_layers=SHALLOW, tile=32, tv_weight=5.0, weights="random:0")
    return StyleConfig(**(base | changes))


def test_halo_covers_the_receptive_field_on_the_pooling_grid() -> None:
    assert halo_for(["conv5_1"]) == 80  # 156 px receptive field: 78 a side, on the 16 px grid
    assert halo_for(["conv3_1"]) % layer_stride("conv3_1") == 0
    tiles = tile_grid(100, 70, 32, 12)
    covered = torch.zeros(100, 70)
    for tile in tiles:
        y0, y1, x0, x1 = tile.own
        covered[y0:y1, x0:x1] += 1
    assert bool((covered == 1).all())


def test_tiled_gradient_equals_untiled(shallow) -> None:
    assert _compare(shallow, _config()) <= 1e-5


def test_meancov_tiled_equals_untiled(shallow64) -> None:
    assert _compare(shallow64, _config(style_loss="meancov")) <= 1e-10


def test_odd_size_several_styles_and_post_relu_taps(shallow) -> None:
    config = _config(style_layers=("relu1_1", "relu2_1", "relu3_1", "conv4_1"), style_blend=(0.7, 0.3), tile=48)
    assert _compare(shallow, config, height=101, width=87, count=2) <= 1e-5


@pytest.mark.parametrize(("statistic", "bound"), [("gram", 1e-5), ("meancov", 1e-10)])
def test_regions_crop_their_masks_with_the_tile(shallow, shallow64, statistic, bound) -> None:
    left = torch.zeros(96, 112)
    left[:, :50] = 1.0
    left[40:60, 50:70] = 0.5  # a soft edge across tiles
    config = _config(style_loss=statistic, style_blend=(0.8, 0.2))  # the blend weights each region
    extractor = shallow if statistic == "gram" else shallow64
    assert _compare(extractor, config, count=2, regions=[left[None, None], None]) <= bound


def test_tv_and_temporal_alone(shallow) -> None:
    target = torch.rand(1, 3, 96, 112, generator=torch.Generator().manual_seed(3))
    mask = (torch.rand(1, 1, 96, 112, generator=torch.Generator().manual_seed(4)) > 0.3).float()
    config = _config(content_weight=0.0, style_weight=0.0)
    temporal = (TemporalTerm(2.0, target, mask),)
    assert _compare(shallow, config, extra=temporal) <= 1e-5


def test_content_targets_recomputed_when_not_cached(shallow) -> None:
    content, styles = _images(96, 112)
    config = _config()
    image = torch.rand(content.shape, generator=torch.Generator().manual_seed(5))
    cached = _tiled(shallow, content, styles, config)
    fresh = _tiled(shallow, content, styles, config, cache_bytes=0)
    assert torch.equal(cached.evaluate(image)[1], fresh.evaluate(image)[1])


def test_sliced_gathers_projections_exactly(shallow, shallow64) -> None:
    assert _compare(shallow64, _config(style_loss="sliced")) <= 1e-10
    # fp32: the tiles' projections round differently, so near-ties sort differently (measured 3.9e-5).
    assert _compare(shallow, _config(style_loss="sliced")) <= 1e-4


def test_sliced_regions_are_refused_with_a_clear_error(shallow) -> None:
    content, styles = _images(96, 112, 2)
    config = _config(style_loss="sliced")
    mask = torch.ones(1, 1, 96, 112)
    with pytest.raises(ConfigError, match="--tile 0"):
        build_objective(shallow, content, styles, config, [mask, None])


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_tiled_steps_follow_untiled_steps(shallow, optimizer) -> None:
    content, styles = _images(80, 96)
    config = _config(optimizer=optimizer)
    plain = PixelOptimizer(content, WholeImage(shallow, build_terms(shallow, content, styles, config)), config)
    tiled = PixelOptimizer(content, build_objective(shallow, content, styles, config), config)
    assert isinstance(tiled.objective, TiledObjective)
    # The first step starts from the same pixels, so its loss agrees to the gradient's 1e-5. L-BFGS's later
    # steps (lr 1, then projected onto the box) amplify that 1e-7-level rounding where pixels sit on the box's
    # edge, so they are compared to 1e-3; Adam's steps are bounded by lr and keep 1e-5.
    for step in range(3):
        a, b = plain.step(), tiled.step()
        rel = 1e-5 if step == 0 or optimizer == "adam" else 1e-3
        assert b.total == pytest.approx(a.total, rel=rel)
    # Adam divides by |gradient|: where a pixel's gradient is ~0 its sign is rounding, so compare on average.
    difference = (tiled.image() - plain.image()).abs().mean().item()
    assert difference < (1e-5 if optimizer == "adam" else 5e-4)  # L-BFGS: the amplification above


def test_config_refuses_a_tile_off_the_grid() -> None:
    with pytest.raises(ConfigError, match="multiple of 16"):
        StyleConfig(tile=40)


def test_a_run_tiles_only_the_scales_larger_than_a_tile(shallow) -> None:
    content, styles = _images(80, 128, 2)
    base = _config(size=128, iterations=4, scales=2, tile=0, save_every=0, preserve_colors="luminance")
    plain = stylize(content, styles, base, extractor=shallow)
    tiled = stylize(content, styles, base.with_overrides(tile=64), extractor=shallow)  # 64 px scale whole
    assert [h.total for h in tiled.history] == pytest.approx([h.total for h in plain.history], rel=1e-5)
    assert (tiled.image - plain.image).abs().mean().item() < 1e-5


def _rank_gradient(rank: int, world: int, init: str, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        extractor = vgg19_extractor(layers=LAYERS, weights="random:0")
        content, styles = _images(96, 112)
        config = _config()
        values, grad = _tiled(extractor, content, styles, config).evaluate(content.flip(-1))
        if rank == 0:
            torch.save({"grad": grad, "total": values["total"]}, out)
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_give_one_process_gradient(tmp_path) -> None:
    out = str(tmp_path / "grad.pt")
    torch.multiprocessing.spawn(_rank_gradient, args=(2, f"file://{tmp_path / 'rendezvous'}", out), nprocs=2)
    shared = torch.load(out)
    extractor = vgg19_extractor(layers=LAYERS, weights="random:0")
    content, styles = _images(96, 112)
    values, grad = _tiled(extractor, content, styles, _config()).evaluate(content.flip(-1))
    assert ((shared["grad"] - grad).norm() / grad.norm()).item() <= 1e-5
    assert shared["total"].item() == pytest.approx(values["total"].item(), rel=1e-6)


def test_the_command_line_takes_tile(tmp_path, capsys) -> None:
    from PIL import Image

    from stylecore.cli.main import main
    from tests.conftest import EXAMPLES

    out = tmp_path / "poster.png"
    argv = [str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(out), "--size", "112",
            "--iterations", "2", "--tile", "48", "--weights", "random:0", "--content-layers", "conv2_1",
            "--style-layers", "conv1_1,conv2_1,conv3_1", "-q"]  # fmt: skip
    assert main(argv) == 0
    assert max(Image.open(out).size) == 112
    assert main([("40" if a == "48" else a) for a in argv]) != 0  # --tile 40 is off the 16 px grid
    assert "tile must be 0 (off), auto, or a multiple of 16" in capsys.readouterr().err


def test_the_memory_estimate_follows_the_tile_not_the_image() -> None:
    from stylecore.optim.memory import estimate_peak_bytes

    config = StyleConfig()
    whole = estimate_peak_bytes(2048, 2048, config)
    tiled = estimate_peak_bytes(2048, 2048, config.with_overrides(tile=512))
    assert tiled < whole / 4
    assert estimate_peak_bytes(4096, 4096, config.with_overrides(tile=512)) < 2 * tiled  # 4x the pixels
    assert estimate_peak_bytes(256, 256, config.with_overrides(tile=512)) == estimate_peak_bytes(256, 256, config)


def test_a_tiled_run_checks_its_style_targets_by_the_tile(monkeypatch) -> None:
    """A print-size style image is sized as the tiles its targets are computed from, not as one VGG pass."""
    from stylecore.optim import memory

    monkeypatch.setattr(memory, "memory_budget", lambda device="cpu": 8 * 2**30)  # an 8 GiB machine
    config, style, cpu = StyleConfig(size=4096, tile=512), torch.zeros(1, 3, 64, 64), torch.device("cpu")
    memory.check_sizes([(4096, 4096, 2)], [style], config, cpu, tiled_targets=True)  # fits: tiles
    with pytest.raises(ConfigError, match=r"style image 1 at style_scale 1 would be 4096x4096 px and need about"):
        memory.check_sizes([(4096, 4096, 2)], [style], config, cpu, tiled_targets=False)  # gathered: whole
