"""Video stylisation without files: the frame chain, its defaults, and the temporal consistency it buys."""

from __future__ import annotations

import pytest
import torch

from stylecore import StyleConfig
from stylecore.errors import ConfigError
from stylecore.objective.terms import TemporalTerm
from stylecore.video.chain import WARM_STEP_SCALE, FrameChain, VideoSettings, stylize_frames
from stylecore.video.flow import warp

from .synthetic_clip import synthetic_clip, texture, warping_error

SHALLOW = {"content_layers": ("conv2_1",), "style_layers": ("conv1_1", "conv2_1")}


@pytest.fixture(scope="module")
def clip():
    return synthetic_clip(frames=4)


def _config(**changes) -> StyleConfig:
    return StyleConfig(size=96, iterations=8, device="cpu", **SHALLOW).with_overrides(**changes)


def _run(chain: FrameChain, frame: torch.Tensor):
    run = chain.start(frame)
    for _ in run:
        pass
    chain.accept(frame, run.result().image)
    return run


def test_later_frames_start_from_the_warped_result_and_hold_to_it(extractor, clip) -> None:
    chain = FrameChain([texture(64, 64, 7)], _config(), extractor=extractor, flow=clip.flow)
    first = _run(chain, clip.frames[0])
    assert first.config.iterations == 8 and first.plan.init is None and first.plan.extra_terms == ()
    second = chain.start(clip.frames[1])
    assert second.config.iterations == 2  # a quarter: it starts close
    assert second.config.step_size == pytest.approx(0.02 * WARM_STEP_SCALE)
    (term,) = second.plan.extra_terms
    assert isinstance(term, TemporalTerm) and term.weight == 30.0
    expected = warp(first.result().image, clip.backward[1])
    assert torch.allclose(term.target, expected, atol=1e-6)
    assert float((term.mask == clip.consistent[1]).float().mean()) > 0.95
    trusted = term.mask.bool().expand_as(expected)
    assert torch.allclose(second.plan.init[trusted], expected[trusted], atol=1e-6)
    # Where the flow is not trusted (pixels that entered at the right edge, the square's wake), the photo is the start.
    assert (~trusted).any()
    assert torch.allclose(second.plan.init[~trusted], clip.frames[1][~trusted], atol=1e-6)


def test_temporal_weight_zero_is_plain_frame_by_frame(extractor, clip) -> None:
    def no_flow(a, b):
        raise AssertionError("frame by frame needs no optical flow")

    chain = FrameChain([texture(64, 64, 7)], _config(), VideoSettings(0), extractor=extractor, flow=no_flow)
    _run(chain, clip.frames[0])
    second = chain.start(clip.frames[1])
    assert second.plan.extra_terms == () and second.plan.init is None
    assert second.config.iterations == 8 and second.config.step_size == 0.02


def test_stylize_frames_yields_one_image_per_frame(extractor, clip) -> None:
    images = list(stylize_frames(clip.frames, [texture(64, 64, 7)], _config(size=48), extractor=extractor))
    assert len(images) == 4 and all(image.shape == (1, 3, 32, 48) for image in images)


@pytest.mark.parametrize("settings", [{"temporal_weight": -1.0}, {"temporal_weight": float("nan")},
                                      {"later_iterations": 0}])  # fmt: skip
def test_video_settings_refuse_nonsense(settings) -> None:
    with pytest.raises(ConfigError):
        VideoSettings(**settings)


@pytest.mark.slow
def test_temporal_loss_makes_the_clip_at_least_three_times_steadier(extractor) -> None:
    """Ruder et al.'s point, with random weights: warping error with the temporal term vs frame by frame.

    Same steps per frame for both (40, then 10), DIS flow for the method, the true flow for the measure.
    """
    clip = synthetic_clip(frames=12)
    style = texture(64, 64, 7) ** 2
    config = StyleConfig(size=96, iterations=40, device="cpu")
    errors = {}
    for weight in (0.0, 30.0):
        frames = stylize_frames(clip.frames, [style], config, VideoSettings(weight, 10), extractor=extractor)
        errors[weight] = warping_error(list(frames), clip)
    print(f"warping error: frame by frame {errors[0.0]:.4f}, temporal {errors[30.0]:.4f}")
    assert errors[0.0] >= 3 * errors[30.0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_the_chain_runs_on_cuda(clip) -> None:
    """Frames arrive on the CPU; flow is computed on the CPU (OpenCV), the rest stays on the GPU."""
    from stylecore import vgg19_extractor

    config = _config(device="cuda")
    extractor = vgg19_extractor(layers=config.layers, weights="random:0", device="cuda")
    chain = FrameChain([texture(64, 64, 7)], config, extractor=extractor)
    _run(chain, clip.frames[0])
    second = chain.start(clip.frames[1])
    (term,) = second.plan.extra_terms
    assert second.plan.init.is_cuda and term.target.is_cuda and term.mask.is_cuda
    for _ in second:
        pass
    assert torch.isfinite(second.result().image).all()


def test_luminance_only_transfer_warps_luminance(extractor, clip) -> None:
    """With --preserve-colors luminance the optimizer works on grey luminance; so must the warped start."""
    chain = FrameChain([texture(64, 64, 7)], _config(preserve_colors="luminance"), extractor=extractor,
                       flow=clip.flow)  # fmt: skip
    first = _run(chain, clip.frames[0])
    assert not torch.allclose(first.result().image[:, 0], first.result().image[:, 2])  # shown in colour
    second = chain.start(clip.frames[1])
    (term,) = second.plan.extra_terms
    for pixels in (second.plan.init, term.target):
        assert torch.allclose(pixels[:, 0], pixels[:, 1]) and torch.allclose(pixels[:, 1], pixels[:, 2])
