"""The optional convergence stop: a run ends when its loss stops moving, and says so."""

import pytest

from stylecore import StyleConfig, stylize
from stylecore.cli.common import config_from_args
from stylecore.cli.image import build_parser
from stylecore.config import FLAT_WINDOW
from stylecore.errors import ConfigError

# A pixels-only objective (tv) with a tiny step: the loss barely moves, so it is flat at once.
FLAT = StyleConfig(size=32, iterations=3 * FLAT_WINDOW, device="cpu", save_every=0, content_weight=0,
                   style_weight=0, lr=1e-7, precision="fp32")  # fmt: skip


def test_a_flat_loss_stops_the_run_after_one_window(extractor, content, style) -> None:
    result = stylize(content, style, FLAT.with_overrides(stop_when_flat=1e-3), extractor=extractor)
    assert len(result.history) == FLAT_WINDOW + 1
    assert (
        result.stopped is not None
        and "loss flat" in result.stopped
        and f"iteration {FLAT_WINDOW + 1}" in result.stopped
    )


def test_without_the_option_the_run_takes_every_step(extractor, content, style) -> None:
    result = stylize(content, style, FLAT, extractor=extractor)
    assert len(result.history) == FLAT.iterations and result.stopped is None


def test_a_falling_loss_is_not_flat(extractor, content, style) -> None:
    falling = FLAT.with_overrides(lr=0.05, stop_when_flat=1e-6, iterations=FLAT_WINDOW + 10)
    result = stylize(content, style, falling, extractor=extractor)
    assert result.stopped is None and result.history[-1].total < result.history[0].total


def test_the_threshold_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="stop_when_flat"):
        StyleConfig(stop_when_flat=0)


def test_the_cli_option_comes_from_the_config_field() -> None:
    args = build_parser().parse_args(["c.jpg", "s.jpg", "-o", "x.png", "--stop-when-flat", "0.001"])
    assert config_from_args(args).stop_when_flat == 0.001
