"""The precision policy as the run, the CLI and the PNG see it (the policy itself: test_precision.py)."""

from pathlib import Path

import pytest
import torch
from PIL import Image

from stylecore import StyleConfig, stylize
from stylecore.cli.main import main
from stylecore.optim import device, precision
from stylecore.optim.precision import Capability, Timing, choose_precision, detect_capability
from stylecore.optim.run import StyleRun

from .conftest import EXAMPLES

CPU = torch.device("cpu")
NATIVE = Capability(cpu_bf16="AVX512-BF16", onednn_bf16=True, machine="test CPU")
EMULATED = Capability(onednn_bf16=True, machine="test CPU")


def test_device_still_exports_the_policy() -> None:
    assert device.choose_precision is choose_precision and device.Capability is Capability


def test_the_cpu_flags_are_read_from_proc_cpuinfo(monkeypatch, tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(precision, "CPUINFO", cpuinfo)
    cpuinfo.write_text("model name\t: AMD EPYC 9R14\nflags\t\t: avx2 avx512f avx512_bf16\n")
    assert detect_capability(CPU).cpu_bf16 == "AVX512-BF16"
    cpuinfo.write_text("model name\t: Intel Xeon\nflags\t\t: avx2 avx512f avx512bw\n")
    emulated = detect_capability(CPU)  # the real one: the suite pins precision.detect_capability
    assert emulated.cpu_bf16 is None and "Intel Xeon" in emulated.machine


def _machine(monkeypatch, capability: Capability, timing: Timing) -> None:
    """This CPU as one with ``capability`` whose calibration measures ``timing``."""
    monkeypatch.setattr(precision, "detect_capability", lambda _device: capability)
    monkeypatch.setattr(precision, "measure", lambda _device: timing)


@pytest.mark.parametrize(
    ("capability", "timing", "label"),
    [
        (NATIVE, Timing(1.0, 0.5), "bf16 (AVX512-BF16 units, measured 2.00x faster here)"),
        (EMULATED, Timing(1.0, 2.0), "fp32 (no native bf16 units, bf16 measured 0.50x as fast here)"),
        (Capability(), Timing(1.0, 0.5), "fp32 (CPU has no bf16 units)"),
    ],
    ids=["native", "emulated", "none"],
)
def test_the_run_applies_the_choice_and_reports_it(monkeypatch, extractor, content, style, capability, timing, label):
    _machine(monkeypatch, capability, timing)
    run = StyleRun(content, style, StyleConfig(size=32, iterations=2, device="cpu"), extractor=extractor)
    progress = list(run)
    assert run.plan.bf16 is label.startswith("bf16")
    assert {p.precision for p in progress} == {label}
    assert run.result().precision == label


def test_bf16_autocasts_the_vgg_pass_only(monkeypatch, extractor, content, style) -> None:
    """Losses stay fp32 under bf16: the history holds finite floats close to the fp32 ones."""
    config = StyleConfig(size=32, iterations=1, device="cpu")
    fp32 = stylize(content, style, config.with_overrides(precision="fp32"), extractor=extractor)
    bf16 = stylize(content, style, config.with_overrides(precision="bf16"), extractor=extractor)
    assert bf16.precision == "bf16 (requested)" and fp32.precision == "fp32 (requested)"
    assert bf16.history[0].total != fp32.history[0].total  # bf16 really ran
    assert bf16.history[0].total == pytest.approx(fp32.history[0].total, rel=0.05)


def test_the_cli_says_the_precision_once_and_stores_it(monkeypatch, tmp_path: Path, capsys) -> None:
    _machine(monkeypatch, EMULATED, Timing(1.0, 2.1))
    out = tmp_path / "o.png"
    argv = [str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(out)]
    code = main([*argv, "--size", "32", "--iterations", "1", "--weights", "random", "--device", "cpu"])
    assert code == 0
    err = capsys.readouterr().err
    label = "fp32 (no native bf16 units, bf16 measured 0.48x as fast here)"
    assert err.count("precision:") == 1 and f"stylecore: precision: {label}" in err
    with Image.open(out) as image:
        assert image.info["stylecore:precision"] == label


def test_the_environment_forces_the_precision_of_a_run(monkeypatch, extractor, content, style) -> None:
    monkeypatch.setenv(precision.PRECISION_ENV, "bf16")
    result = stylize(content, style, StyleConfig(size=32, iterations=1, device="cpu"), extractor=extractor)
    assert result.precision == f"bf16 (set by {precision.PRECISION_ENV})"
