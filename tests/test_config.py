"""StyleConfig: validation, defaults, layer names, presets, overrides."""

import pytest

from stylecore import PRESETS, ConfigError, StyleConfig
from stylecore.config import get_preset
from stylecore.model.layers import MIN_SIDE


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


def test_config_normalizes_layers() -> None:
    config = StyleConfig(content_layers=(21,), style_layers=("0", "RELU1_1", "relu1_1"))
    assert config.content_layers == ("conv4_2",) and config.style_layers == ("conv1_1", "relu1_1")
    assert config.layers == ("conv4_2", "conv1_1", "relu1_1")


def test_presets() -> None:
    seed = PRESETS["original"]
    assert seed.optimizer == "adam" and seed.init == "content" and seed.iterations == 1000
    assert seed.save_every == 200 and seed.content_layers == seed.style_layers
    assert seed.style_layers == ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    gatys = PRESETS["gatys"]
    assert gatys.optimizer == "lbfgs" and gatys.content_layers == ("relu4_2",)
    assert all(name.startswith("relu") for name in gatys.style_layers)


def test_seed_is_an_alias_of_original_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match="'seed' is now called 'original'"):
        assert get_preset("seed") == PRESETS["original"]
    with pytest.raises(ConfigError, match="unknown preset 'nope'; valid: gatys, original"):
        get_preset("nope")


def test_overrides_can_set_none_explicitly() -> None:
    blended = StyleConfig(style_blend=(0.7, 0.3))
    assert blended.with_overrides(style_blend=None).style_blend is None
    assert blended.with_overrides(iterations=5).style_blend == (0.7, 0.3)


def test_the_smallest_size_comes_from_the_extractor() -> None:
    assert MIN_SIDE == 32  # twice the 16 px that four max-pools before conv5_1 need
    with pytest.raises(ConfigError, match=r"size must be an integer in \[32, 8192\]"):
        StyleConfig(size=MIN_SIDE - 1)


@pytest.mark.parametrize(("given", "stored"), [("auto", "auto"), ("AUTO", "auto"), ("512", 512), (0, 0), (48, 48)])
def test_tile_takes_a_size_or_auto_also_as_the_cli_text(given: object, stored: object) -> None:
    assert StyleConfig(tile=given).tile == stored  # type: ignore[arg-type]


def test_tile_auto_from_the_command_line() -> None:
    from stylecore.cli.common import config_from_args
    from stylecore.cli.image import build_parser

    args = build_parser().parse_args(["a.png", "b.png", "-o", "c.png", "--tile", "auto"])
    assert config_from_args(args).tile == "auto"


@pytest.mark.parametrize("bad", ["big", "-16", 40, 16, 9000, True, 512.0])
def test_bad_tile_is_one_clear_config_error(bad: object) -> None:
    with pytest.raises(ConfigError, match="tile must be 0 \\(off\\), auto, or"):
        StyleConfig(tile=bad)  # type: ignore[arg-type]


def test_term_weights_give_registered_terms_a_weight_without_a_field_of_their_own() -> None:
    config = StyleConfig(term_weights=("edges=2",))
    assert config.term_weight("edges", 0.5) == 2.0 and config.term_weight("grain", 0.5) == 0.5  # else the default
    assert config.term_weight("style", 0.5) == config.style_weight  # a built-in term reads its own field
    moved = config.with_overrides(edges_weight=4, grain_weight=0.25)  # as the page sets a term's slider
    assert moved.term_weights == ("edges=4", "grain=0.25") and moved.term_weight("grain", 1.0) == 0.25


@pytest.mark.parametrize(
    ("entries", "message"),
    [(("edges",), "must be NAME=WEIGHT"), (("style=3",), "without its own option"), (("a=1", "a=2"), "once per term"),
     (("edges=-1",), "weight of edges must be a finite number >= 0"), ("edges=1", "must be NAME=WEIGHT entries")],
)  # fmt: skip
def test_bad_term_weights_are_one_clear_config_error(entries: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        StyleConfig(term_weights=entries)  # type: ignore[arg-type]


def test_a_term_weight_for_no_registered_term_is_refused_when_the_terms_are_built() -> None:
    from stylecore import default_terms

    with pytest.raises(ConfigError, match="unknown loss term 'edges'; registered: content, style, tv"):
        default_terms(StyleConfig(term_weights=("edges=2",)))


def test_term_weights_on_the_command_line() -> None:
    from stylecore.cli.common import config_from_args
    from stylecore.cli.image import build_parser

    args = build_parser().parse_args(["a.png", "b.png", "-o", "c.png", "--term-weights", "edges=2,grain=0.5"])
    assert config_from_args(args).term_weights == ("edges=2", "grain=0.5")
