import pytest
import torch

from stylecore import ConfigError, StyleConfig, resolve_weights, stylize
from stylecore.config import LBFGS_HISTORY
from stylecore.model.extractor import VGGExtractor
from stylecore.optim.device import resolve_device
from stylecore.optim.engine import PixelOptimizer, WholeImage, build_terms, objective

RANDOM = resolve_weights("random")
SMALL = {"size": 64, "device": "cpu", "save_every": 0}


def _config(**changes: object) -> StyleConfig:
    return StyleConfig(**{**SMALL, **changes})


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_loss_falls_substantially_in_30_iterations(extractor, content, style, optimizer) -> None:
    result = stylize(content, style, _config(iterations=30, optimizer=optimizer), extractor=extractor)
    first, last = result.history[0].total, result.history[-1].total
    assert len(result.history) == 30 and result.stopped is None
    assert last < 0.5 * first, (first, last)


def test_output_has_the_configured_size_and_pixel_range(extractor, content, style) -> None:
    result = stylize(content, style, _config(iterations=5, lr=0.5), extractor=extractor)
    assert result.image.shape == content.shape  # 48x64 already has the configured long side (64)
    assert result.image.min() >= 0 and result.image.max() <= 1
    assert not result.trained_weights and "UNTRAINED" in result.weights_label


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_same_seed_same_output_on_cpu(extractor, content, style, optimizer) -> None:
    config = _config(iterations=4, init="noise", seed=3, optimizer=optimizer)
    a = stylize(content, style, config, extractor=extractor).image
    b = stylize(content, style, config, extractor=extractor).image
    c = stylize(content, style, config.with_overrides(seed=4), extractor=extractor).image
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


class CountingExtractor(VGGExtractor):
    calls = 0

    def forward(self, image, layers=None):  # type: ignore[override]
        type(self).calls += 1
        return super().forward(image, layers)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_targets_once_then_one_forward_per_step(content, style, optimizer: str) -> None:
    extractor = CountingExtractor(StyleConfig().layers, weights=RANDOM)
    CountingExtractor.calls = 0
    stylize(content, [style, style.flip(-1)], _config(iterations=7, optimizer=optimizer), extractor=extractor)
    assert CountingExtractor.calls == 1 + 2 + 7  # content, two styles, then one per step (L-BFGS: max_iter=1)


def test_init_modes(extractor, content, style) -> None:
    one_step = _config(iterations=1, lr=1e-6)
    from_content = stylize(content, style, one_step, extractor=extractor).image
    from_noise = stylize(content, style, one_step.with_overrides(init="noise"), extractor=extractor).image
    from_style = stylize(content, style, one_step.with_overrides(init="style"), extractor=extractor).image
    assert (from_content - content).abs().max() < 1e-4
    assert (from_noise - content).abs().mean() > 0.1
    assert from_style.shape == content.shape and (from_style - content).abs().mean() > 0.1


def test_callback_sees_progress_snapshots_and_can_stop(extractor, content, style) -> None:
    seen = []

    def callback(progress):
        seen.append((progress.iteration, progress.snapshot, progress.image.shape))
        return progress.iteration == 6

    result = stylize(content, style, _config(iterations=20, save_every=3), callback, extractor=extractor)
    assert [i for i, snap, _ in seen if snap] == [3, 6]
    assert seen[-1][0] == 6 and len(result.history) == 6
    assert result.stopped == "stopped at iteration 6 of 20" and not result.diverged
    assert seen[0][2] == content.shape


class ExplodingExtractor(VGGExtractor):
    """Returns NaN features from the fifth call on (two target passes + two good steps)."""

    calls = 0

    def forward(self, image, layers=None):  # type: ignore[override]
        type(self).calls += 1
        out = super().forward(image, layers)
        return {k: v * float("nan") for k, v in out.items()} if type(self).calls >= 5 else out


def test_non_finite_loss_stops_and_returns_last_finite_image(content, style) -> None:
    ExplodingExtractor.calls = 0
    extractor = ExplodingExtractor(StyleConfig().layers, weights=RANDOM)
    seen = []
    result = stylize(content, style, _config(iterations=10, lr=0.1), seen.append, extractor=extractor)
    assert result.diverged and "non-finite at iteration 3" in (result.stopped or "")
    assert torch.isfinite(result.image).all()
    # The returned image is the one evaluated at step 2 (its loss was finite).
    assert len(seen) == 2 and not torch.equal(result.image, content)


def _style_targets(extractor, content, styles, config) -> dict[str, torch.Tensor]:
    style = {t.name: t for t in build_terms(extractor, content, styles, config)}["style"]
    return {layer: targets[0][0] for layer, targets in style.targets.items()}  # the whole image's Gram


def test_several_styles_average_their_grams(extractor, content, style) -> None:
    config = _config()
    other = torch.rand(1, 3, 40, 72, generator=torch.Generator().manual_seed(5))  # a different style
    a = _style_targets(extractor, content, [style], config)
    b = _style_targets(extractor, content, [other], config)
    both = _style_targets(extractor, content, [style, other], config)
    for name in a:
        torch.testing.assert_close(both[name], (a[name] + b[name]) / 2)  # the mean, not either one
        assert not torch.allclose(a[name], b[name])


def test_bad_inputs_are_config_errors(extractor, content, style) -> None:
    with pytest.raises(ConfigError, match="float RGB tensor"):
        stylize(content[:, :1], style, _config(iterations=1), extractor=extractor)
    with pytest.raises(ConfigError, match="at least one style"):
        stylize(content, [], _config(iterations=1), extractor=extractor)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


@pytest.mark.parametrize("steps", [20, 60])
def test_lbfgs_on_pixels_reaches_adams_objective_in_as_many_steps(extractor, content, style, steps: int) -> None:
    config = _config(iterations=steps, precision="fp32")
    adam = stylize(content, style, config, extractor=extractor)
    lbfgs = stylize(content, style, config.with_overrides(optimizer="lbfgs"), extractor=extractor)
    assert lbfgs.history[-1].total <= adam.history[-1].total, (lbfgs.history[-1].total, adam.history[-1].total)
    assert lbfgs.image.min() >= 0 and lbfgs.image.max() <= 1


def test_lbfgs_curvature_pairs_use_the_projected_step(extractor, content, style) -> None:
    # A bare clamp after an L-BFGS step left its stored step (d * t) at the proposed one, corrupting the next
    # curvature pair; the projection rewrites it to the step the pixels actually took.
    config = _config(optimizer="lbfgs", lr=1e4, precision="fp32")  # a huge step: the box must clip it
    run = PixelOptimizer(content, WholeImage(extractor, build_terms(extractor, content, [style], config)), config)
    for _ in range(2):
        before = run.image().detach().clone()
        run.step()
        state = run.optimizer.state[run.param]
        taken = run.image().detach() - before
        assert torch.allclose(state["d"].view_as(taken) * state["t"], taken, atol=1e-6)
        assert state["old_dirs"] == []  # the clamp clipped: pairs from before the cut are dropped
    assert ((run.image() == 0) | (run.image() == 1)).any() and run.image().min() >= 0 and run.image().max() <= 1


def test_lbfgs_keeps_torchs_memory_while_the_box_does_not_clip(extractor, content, style) -> None:
    config = _config(optimizer="lbfgs", lr=1e-2, precision="fp32")  # steps of ~0.005: far from the box
    inner = content.clamp(0.25, 0.75)
    terms = build_terms(extractor, inner, [style], config)
    run = PixelOptimizer(inner, WholeImage(extractor, terms), config)
    plain = inner.clone().requires_grad_(True)
    reference = torch.optim.LBFGS([plain], lr=1e-2, max_iter=1, history_size=LBFGS_HISTORY)

    def closure() -> torch.Tensor:
        reference.zero_grad()
        loss = objective(extractor(plain, run.layers), plain, terms)["total"]
        loss.backward()
        return loss

    for _ in range(5):
        run.step()
        reference.step(closure)
    kept, torchs = run.optimizer.state[run.param]["old_dirs"], reference.state[plain]["old_dirs"]
    assert run.image().min() > 0 and run.image().max() < 1  # the box never clipped
    # Nothing dropped. (The pixels themselves drift apart: the rewritten d is (x + d t) - x, and fp32 rounds
    # the first, tiny steps by ~1 %, which L-BFGS carries on; that d is the one true to the pixels.)
    assert len(kept) == len(torchs) >= 3
