"""The app's controls: every value an API caller sends is checked into the config with one sentence."""

from __future__ import annotations

import itertools
import math

import pytest

from demo.controls import Number, check_work
from demo.hosting import Hardware
from demo.service import Throttle
from demo.settings import by_name, check, max_iterations, table
from stylecore import ConfigError, StyleConfig

CPU = Hardware("cpu", 512, 200 * 256**2, 1, 8, 2, 100, 256, 300.0)
SETTINGS = table(CPU)
GOOD = {"blend": 0.5, "preset": "original", "iterations": 10, "size": 128, "log_cw": 0, "log_sw": 1, "log_tv": 0,
        "preview_every": 5, "optimizer": "adam", "init": "content", "seed": 3, "style_scale": 1.0,
        "preserve_colors": "none", "scales": 1, "style_loss": "gram"}  # fmt: skip


def to_config(raw: dict, hardware: Hardware, *, two_styles: bool, time_budget: float) -> StyleConfig:
    """The table's check, with the time budget given (the host's budget is hosting's, tested there)."""
    config = check(table(hardware), raw, hardware, two_styles=two_styles).config
    return config.with_overrides(time_budget=time_budget)


def choice(name: str, value: object) -> str:
    return str(by_name(SETTINGS)[name].control.parse(value))


def test_good_values_become_the_config() -> None:
    config = to_config(GOOD, CPU, two_styles=True, time_budget=42.0)
    assert (config.iterations, config.size, config.seed, config.time_budget) == (10, 128, 3, 42.0)
    assert config.style_weight == 10 and config.style_blend == (0.5, 0.5)
    assert to_config(GOOD, CPU, two_styles=False, time_budget=1.0).style_blend is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "Iterations must be a whole number from 1 to 2000, got nan"),
        (None, "Iterations must be a whole number from 1 to 2000, got None"),
        ("ten", "Iterations must be a whole number from 1 to 2000, got 'ten'"),
        (True, "Iterations must be a whole number from 1 to 2000, got True"),
        (2.5, "Iterations must be a whole number from 1 to 2000, got 2.5"),
        (0, "Iterations must be a whole number from 1 to 2000, got 0"),
        ([1], "Iterations must be a whole number from 1 to 2000, got [1]"),
    ],
)
def test_bad_numbers_get_one_sentence(value: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        to_config({**GOOD, "iterations": value}, CPU, two_styles=False, time_budget=1.0)
    assert str(info.value) == message


def test_numeric_strings_and_huge_seeds() -> None:
    assert Number("Seed", 0, 10, 1, integer=True).parse("7") == 7
    with pytest.raises(ConfigError, match=r"Seed must be a whole number from 0 to 9\.22337e"):
        to_config({**GOOD, "seed": 2**70}, CPU, two_styles=False, time_budget=1.0)


def test_choices_are_checked() -> None:
    assert choice("optimizer", "lbfgs") == "lbfgs"
    with pytest.raises(ConfigError, match="preserve colors must be one of none, luminance, match, got 'all'"):
        choice("preserve_colors", "all")


def test_work_is_capped_for_the_host() -> None:
    check_work(200, 256, CPU)
    expected = "2000 iterations at 512 px is more than this server runs at once; use at most 50 iterations"
    with pytest.raises(ConfigError, match=expected):
        check_work(2000, 512, CPU)
    assert by_name(SETTINGS)["size"].control.high == 512


def test_throttle_lets_updates_through_a_few_times_a_second() -> None:
    now = [0.0]
    throttle = Throttle(0.25, clock=lambda: now[0])
    times = [step / 64 for step in range(128)]  # two seconds of 16 ms GPU steps (exact binary fractions)
    forced = {t for i, t in enumerate(times) if i % 40 == 39}  # previews
    passed = []
    for t in times:
        now[0] = t
        if throttle(force=t in forced):
            passed.append(t)
    assert forced <= set(passed)  # every preview gets through
    unforced = [t for t in passed if t not in forced]
    assert all(b - a >= 0.25 for a, b in itertools.pairwise(passed) if b in unforced)
    assert len(passed) <= 2 * 4 + len(forced) < len(times) / 8


def test_the_iterations_maximum_follows_the_size() -> None:
    assert max_iterations(SETTINGS, 256, CPU) == 200 and max_iterations(SETTINGS, 512, CPU) == 50
    assert max_iterations(SETTINGS, 64, CPU) == 2000  # the slider's own top
    assert max_iterations(SETTINGS, "", CPU) == 50  # an unreadable size: the host's largest


def test_a_size_over_the_host_is_clamped_and_said() -> None:
    from demo.controls import clamp_size

    settings, notes = clamp_size({**GOOD, "size": 9999}, CPU)
    assert settings["size"] == 512 and notes == ["Size 9999 is over this host's 512 limit; used 512"]
    assert clamp_size(GOOD, CPU) == (GOOD, [])
    assert clamp_size({**GOOD, "size": "9999"}, CPU)[1] == []  # not a number: refused later, with its sentence


@pytest.mark.parametrize("value", ["", "abc", None])
def test_an_empty_or_non_numeric_field_is_refused(value: object) -> None:
    with pytest.raises(ConfigError, match="Iterations must be a whole number"):
        to_config({**GOOD, "iterations": value}, CPU, two_styles=False, time_budget=10)


def test_the_table_starts_at_the_default_presets_values_on_this_hosts_scale() -> None:
    from demo.settings import DEFAULT_PRESET, defaults
    from stylecore import PRESETS

    preset = PRESETS[DEFAULT_PRESET]
    config = check(SETTINGS, defaults(SETTINGS), CPU, two_styles=False).config
    for setting in SETTINGS:
        if setting.field and setting.default is None and setting.name != "iterations":
            assert getattr(config, setting.field) == pytest.approx(getattr(preset, setting.field)), setting.name
    assert (config.iterations, config.size, config.save_every) == (CPU.default_iterations, CPU.default_size, 10)
    assert config.time_budget == CPU.time_budget_s


def test_every_row_names_a_real_config_field_once() -> None:
    import dataclasses

    fields = [s.field for s in SETTINGS if s.field]
    assert len(fields) == len(set(fields)) and set(fields) <= {f.name for f in dataclasses.fields(StyleConfig)}
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)


def test_a_preset_moves_the_controls_that_follow_it() -> None:
    from demo.settings import preset_values
    from stylecore import PRESETS

    gatys = PRESETS["gatys"]
    moved = preset_values(SETTINGS, "gatys")
    assert moved["log_sw"] == pytest.approx(math.log10(gatys.style_weight)) and moved["init"] == gatys.init
    assert moved["iterations"] == min(gatys.iterations, CPU.default_iterations)
    assert list(moved) == [s.name for s in SETTINGS if s.follows_preset]
    with pytest.raises(ConfigError, match="preset must be one of gatys, original, got 'picasso'"):
        preset_values(SETTINGS, "picasso")


def test_a_new_row_reaches_the_config_with_no_other_edit() -> None:
    """A new term's weight is one row: parsed, refused with its sentence, and turned into its field."""
    from demo.settings import Setting

    row = Setting("log_lr", Number("Step size", -4, 0, 0.1), "step size, as a power of ten.", field="lr",
                  to_field=lambda x: 10**x, from_field=math.log10)  # fmt: skip
    extended = (*SETTINGS, row)
    assert check(extended, {**GOOD, "log_lr": -2}, CPU, two_styles=False).config.lr == pytest.approx(0.01)
    with pytest.raises(ConfigError, match="Step size must be a number from -4 to 0, got 3"):
        check(extended, {**GOOD, "log_lr": 3}, CPU, two_styles=False)
