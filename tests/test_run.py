"""Run-level controls: colours, blends, style scale, scales, budget, precision, memory."""

import pytest
import torch

from stylecore import StyleConfig, stylize
from stylecore.imaging.color import rgb_to_yiq
from stylecore.objective.terms import StyleTerm
from stylecore.optim import memory
from stylecore.optim import run as run_module
from stylecore.optim.device import choose_precision
from stylecore.optim.engine import PixelOptimizer, build_terms
from stylecore.optim.run import StyleRun
from stylecore.optim.scale import build_objective
from stylecore.optim.schedule import auto_scales, scale_plan

SMALL = {"size": 64, "device": "cpu", "save_every": 0}


def _config(**changes: object) -> StyleConfig:
    return StyleConfig(**{**SMALL, **changes})


def _spy_targets(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[int, ...], list[tuple[int, ...]]]]:
    """Record the content and style shapes each scale's targets are computed from."""
    calls = []

    def spy(extractor, content, styles, config, *more, **options):
        calls.append((tuple(content.shape[-2:]), [tuple(s.shape[-2:]) for s in styles]))
        return build_objective(extractor, content, styles, config, *more, **options)

    monkeypatch.setattr(run_module, "build_objective", spy)
    return calls


def test_luminance_mode_keeps_the_content_chroma(extractor, content, style) -> None:
    content = 0.2 + 0.6 * content  # inside the gamut, so the final clamp does not move chroma
    result = stylize(content, style, _config(iterations=5, preserve_colors="luminance"), extractor=extractor)
    chroma_out, chroma_in = rgb_to_yiq(result.image)[:, 1:], rgb_to_yiq(content)[:, 1:]
    assert (chroma_out - chroma_in).abs().max() < 1e-4
    assert (result.image - content).abs().mean() > 1e-3  # but the image did change


def test_match_mode_recolors_the_style_before_the_run(extractor, content, style) -> None:
    reddish = style * torch.tensor([1.0, 0.2, 0.2]).view(1, 3, 1, 1)
    run = StyleRun(content, reddish, _config(preserve_colors="match"), extractor=extractor)
    matched = run.plan.styles[0].flatten(2)[0]
    assert (matched.mean(1) - content.flatten(2)[0].mean(1)).abs().max() < 0.05


def _grams(extractor, content, styles, **changes) -> dict[str, torch.Tensor]:
    terms = build_terms(extractor, content, styles, _config(**changes))
    style = next(t for t in terms if isinstance(t, StyleTerm))
    return {layer: targets[0][0] for layer, targets in style.targets.items()}  # the whole image's Gram


def test_blend_one_zero_gives_the_first_style_alone(extractor, content, style) -> None:
    other = style.flip(-1) * 0.5
    alone = _grams(extractor, content, [style])
    blended = _grams(extractor, content, [style, other], style_blend=(1.0, 0.0))
    even = _grams(extractor, content, [style, other], style_blend=(0.5, 0.5))
    for name, gram in alone.items():
        torch.testing.assert_close(blended[name], gram)
        assert not torch.allclose(even[name], gram)


def test_blend_needs_one_weight_per_style(extractor, content, style) -> None:
    with pytest.raises(ValueError, match="2 weights for 1 style"):
        stylize(content, style, _config(iterations=1, style_blend=(0.5, 0.5)), extractor=extractor)


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_style_scale_sets_the_style_resolution(extractor, content, style, monkeypatch, scale: float) -> None:
    calls = _spy_targets(monkeypatch)
    stylize(content, style, _config(iterations=1, style_scale=scale), extractor=extractor)
    ((content_hw, (style_hw,)),) = calls
    assert max(style_hw) == round(scale * max(content_hw))  # style is 56x40: long side follows the scale
    assert style_hw[0] / style_hw[1] == pytest.approx(56 / 40, rel=0.05)


def test_multi_scale_uses_the_requested_scales_and_ends_at_full_size(extractor, monkeypatch) -> None:
    content = torch.rand(1, 3, 128, 160)
    calls = _spy_targets(monkeypatch)
    seen = []
    config = _config(iterations=9, scales=3, size=160)
    result = stylize(content, torch.rand(1, 3, 64, 64), config, seen.append, extractor=extractor)
    assert [c[0] for c in calls] == [(32, 40), (64, 80), (128, 160)]
    assert result.image.shape == content.shape and len(result.history) == 9
    assert [tuple(p.image.shape[-2:]) for p in seen][::3] == [(32, 40), (64, 80), (128, 160)]  # previews follow
    assert [(p.scale, p.scales) for p in seen][::3] == [(0, 3), (1, 3), (2, 3)]


def test_scale_plan_and_auto_scales() -> None:
    assert scale_plan(300, 400, _config(iterations=10, scales=3)) == [(75, 100, 3), (150, 200, 3), (300, 400, 4)]
    assert scale_plan(40, 400, _config(iterations=10, scales=3)) == [(40, 400, 10)]  # too thin to halve
    assert [auto_scales(s) for s in (128, 256, 512, 1024, 4096)] == [1, 2, 3, 4, 4]


class FakeClock:
    """Seconds that pass only when the test says so: no test depends on the machine's speed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_time_budget_stops_at_the_first_step_past_it(extractor, content, style) -> None:
    clock = FakeClock()
    run = StyleRun(content, style, _config(iterations=10_000, time_budget=1.0), extractor=extractor, clock=clock)
    seen = []
    for progress in run:
        seen.append(progress)
        clock.now += 0.3  # each step "takes" 0.3 s
    assert len(seen) == 5 and "time budget of 1 s reached at iteration 5" in (run.result().stopped or "")
    assert seen[-1].elapsed >= 1.0 > seen[-2].elapsed and seen[-1].snapshot


def test_bf16_autocast_on_cpu_is_close_to_fp32_and_still_descends(extractor, content, style) -> None:
    fp32 = stylize(content, style, _config(iterations=12, precision="fp32"), extractor=extractor).history
    bf16 = stylize(content, style, _config(iterations=12, precision="bf16"), extractor=extractor).history
    assert bf16[0].total == pytest.approx(fp32[0].total, rel=0.05)
    assert bf16[-1].total < 0.6 * bf16[0].total
    auto = StyleRun(content, style, _config(precision="auto"), extractor=extractor).plan.bf16
    assert auto is choose_precision(torch.device("cpu"), "auto").bf16  # bf16 only with bf16 units (test_device.py)


def test_cuda_out_of_memory_retries_smaller_with_a_notice(extractor, content, style, monkeypatch) -> None:
    real_step, failures = PixelOptimizer.step, []

    def flaky(self):
        if not failures:
            failures.append(1)
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_step(self)

    monkeypatch.setattr(PixelOptimizer, "step", flaky)
    result = stylize(content, style, _config(iterations=3), extractor=extractor)
    assert len(result.history) == 3 and result.notices == ["CUDA ran out of memory; continuing at 48 px"]
    assert result.image.shape[-1] == 48  # 64 * 0.75


def test_time_is_not_spent_before_the_first_step(extractor, content, style) -> None:
    clock = FakeClock()
    run = StyleRun(content, style, _config(iterations=2), extractor=extractor, clock=clock)
    clock.now += 100  # preparation time is not the run's
    assert run.elapsed == 0.0
    next(iter(run))
    clock.now += 2.5
    assert run.elapsed == 2.5


@pytest.mark.parametrize(("shape", "size", "expected"), [((1, 3, 300, 100), 64, (64, 21)), ((3, 48, 64), 96, (72, 96))])
def test_stylize_returns_the_configured_long_side_from_any_input(extractor, style, shape, size, expected) -> None:
    content = torch.rand(*shape, generator=torch.Generator().manual_seed(2))
    result = stylize(content, style, _config(iterations=1, size=size), extractor=extractor)
    assert tuple(result.image.shape[-2:]) == expected  # shrunk or grown, aspect kept


def test_the_callers_extractor_is_used_where_it_is(extractor, content, style) -> None:
    device = extractor.mean.device
    run = StyleRun(content, style, _config(iterations=1, device="auto"), extractor=extractor)
    assert run.plan.extractor is extractor and extractor.mean.device == device


def test_a_run_can_start_from_given_pixels_with_more_terms(extractor, content, style) -> None:
    """What video builds on: ``init`` is where the first step starts, ``terms`` join the objective."""
    from stylecore.objective.terms import TemporalTerm

    start = torch.full_like(content, 0.5)
    near_start = TemporalTerm(1.0, start, torch.ones(1, 1, *content.shape[-2:]))
    result = stylize(content, style, _config(iterations=2), extractor=extractor, init=start, terms=[near_start])
    first, second = result.history
    assert set(first.values) == {"content", "style", "tv", "temporal"}
    assert first["temporal"] == 0 and second["temporal"] > 0  # evaluated at `init`, then it moved
    plain = stylize(content, style, _config(iterations=1), extractor=extractor)
    assert "temporal" not in plain.history[0].values


def test_cuda_memory_pre_check_downscales_with_a_notice_before_starting(monkeypatch) -> None:
    from stylecore import ConfigError
    from stylecore.optim.memory import estimate_peak_bytes

    config, cuda = _config(size=512), torch.device("cuda")  # a device object needs no GPU
    needed = estimate_peak_bytes(384, 512, config)
    free = {"bytes": 0}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free["bytes"], 80 * 2**30))
    free["bytes"] = int(needed / 0.9) + 2**20  # enough: the run starts at the size asked for
    assert memory.fit_gpu_memory((384, 512, 100), config, cuda) == (1.0, [])
    free["bytes"] = needed // 3  # a third of what it needs: a smaller run, said so
    shrink, notices = memory.fit_gpu_memory((384, 512, 100), config, cuda)
    side = round(512 * shrink)
    assert 0 < shrink < 1 and estimate_peak_bytes(round(384 * shrink), side, config) <= free["bytes"] * 0.9
    fit = f"downscaled from 512 to {side} px to fit {free['bytes'] * 0.9 / 2**30:.1f} GiB of GPU memory"
    assert notices == [f"{fit}; --tile 512 keeps the full size (see Print size in docs/cli.md)"]
    free["bytes"] = 2**20  # 1 MiB: not even the smallest size fits
    with pytest.raises(ConfigError, match=r"not enough GPU memory \(0.0 GiB free\)"):
        memory.fit_gpu_memory((384, 512, 100), config, cuda)
    assert memory.fit_gpu_memory((384, 512, 100), config, torch.device("cpu")) == (1.0, [])  # CPU: no check


def test_stylize_and_style_run_take_the_run_inputs_and_nothing_else() -> None:
    """The inputs are one dataclass; the two public signatures keep their keywords and must name the same."""
    import dataclasses
    import inspect

    from stylecore.optim.plan import RunInputs

    fields = [f.name for f in dataclasses.fields(RunInputs)]
    taken = {
        fn.__qualname__: [
            p for p in inspect.signature(fn).parameters if p not in {"self", "config", "callback", "clock"}
        ]
        for fn in (stylize, StyleRun.__init__)
    }
    assert all(sorted(params) == sorted(fields) for params in taken.values()), taken
