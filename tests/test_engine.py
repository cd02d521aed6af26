import pytest
import torch

from stylecore import PRESETS, ConfigError, StyleConfig, resolve_weights, stylize
from stylecore.engine import compute_targets, resolve_device
from stylecore.extractor import VGGExtractor

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


def test_output_keeps_content_size_and_pixel_range(extractor, content, style) -> None:
    result = stylize(content, style, _config(iterations=5, lr=0.5), extractor=extractor)
    assert result.image.shape == content.shape
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


def test_targets_once_then_one_forward_per_adam_step(content, style) -> None:
    extractor = CountingExtractor(StyleConfig().layers, weights=RANDOM)
    CountingExtractor.calls = 0
    stylize(content, [style, style.flip(-1)], _config(iterations=7), extractor=extractor)
    assert CountingExtractor.calls == 1 + 2 + 7  # content, two styles, then one per step


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


def test_several_styles_average_their_grams(extractor, content, style) -> None:
    config = _config()
    one = compute_targets(extractor, content, [style], config)
    two = compute_targets(extractor, content, [style, style], config)
    for name in one.grams:
        torch.testing.assert_close(one.grams[name], two.grams[name])


def test_bad_inputs_are_config_errors(extractor, content, style) -> None:
    with pytest.raises(ConfigError, match="float RGB tensor"):
        stylize(content[:, :1], style, _config(iterations=1), extractor=extractor)
    with pytest.raises(ConfigError, match="at least one style"):
        stylize(content, [], _config(iterations=1), extractor=extractor)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"iterations": 0}, "iterations"),
        ({"size": 8}, "size"),
        ({"style_weight": -1.0}, "style_weight"),
        ({"lr": float("nan")}, "lr"),
        ({"optimizer": "sgd"}, "optimizer must be one of adam, lbfgs"),
        ({"style_layers": ("relu9_9",)}, "unknown layer"),
    ],
)
def test_config_validation(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        StyleConfig(**changes)


def test_step_size_defaults_follow_the_optimizer() -> None:
    assert StyleConfig(optimizer="adam").step_size == 0.02
    assert StyleConfig(optimizer="lbfgs").step_size == 1.0
    assert StyleConfig(optimizer="lbfgs", lr=0.5).step_size == 0.5


def test_config_normalises_layers() -> None:
    config = StyleConfig(content_layers=(21,), style_layers=("0", "RELU1_1", "relu1_1"))
    assert config.content_layers == ("conv4_2",) and config.style_layers == ("conv1_1", "relu1_1")
    assert config.layers == ("conv4_2", "conv1_1", "relu1_1")


def test_presets() -> None:
    seed = PRESETS["seed"]
    assert seed.optimizer == "adam" and seed.init == "content" and seed.iterations == 1000
    assert seed.save_every == 200 and seed.content_layers == seed.style_layers
    assert seed.style_layers == ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    gatys = PRESETS["gatys"]
    assert gatys.optimizer == "lbfgs" and gatys.content_layers == ("relu4_2",)
    assert all(name.startswith("relu") for name in gatys.style_layers)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"
