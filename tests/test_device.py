"""The precision policy: bf16 where the hardware has bf16 units, fp32 elsewhere; visible everywhere."""

from pathlib import Path

import pytest
import torch
from PIL import Image

from stylecore import StyleConfig, stylize
from stylecore.cli.main import main
from stylecore.optim import device
from stylecore.optim.device import Capability, choose_precision, detect_capability
from stylecore.optim.run import StyleRun

from .conftest import EXAMPLES

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize(
    ("dev", "capability", "bf16", "reason"),
    [
        (CPU, Capability(cpu_bf16="AVX512-BF16"), True, "CPU has AVX512-BF16"),
        (CPU, Capability(cpu_bf16="AMX"), True, "CPU has AMX"),
        (CPU, Capability(), False, "CPU has no bf16 units"),
        (CPU, Capability(cuda_bf16=True), False, "CPU has no bf16 units"),  # a GPU's bf16 says nothing of the CPU
        (CUDA, Capability(cuda_bf16=True), True, "GPU supports bf16"),
        (CUDA, Capability(cuda_bf16=False, cpu_bf16="AMX"), False, "GPU has no bf16"),
    ],
)
def test_auto_picks_bf16_only_on_bf16_hardware(dev, capability, bf16: bool, reason: str) -> None:
    choice = choose_precision(dev, "auto", capability)
    assert (choice.bf16, choice.reason) == (bf16, reason)
    assert choice.label == f"{'bf16' if bf16 else 'fp32'} ({reason})"


@pytest.mark.parametrize("requested", ["fp32", "bf16"])
def test_an_explicit_precision_wins_over_the_hardware(requested: str) -> None:
    for capability in (Capability(), Capability(cpu_bf16="AMX")):
        assert choose_precision(CPU, requested, capability).label == f"{requested} (requested)"


def test_this_cpu_is_read_from_onednn() -> None:
    has = torch.backends.mkldnn.is_available() and (
        torch.cpu._is_amx_tile_supported() or torch.ops.mkldnn._is_mkldnn_bf16_supported()
    )
    assert (detect_capability(CPU).cpu_bf16 is not None) == has


@pytest.mark.parametrize("capability", [Capability(cpu_bf16="AVX512-BF16"), Capability()], ids=["bf16", "none"])
def test_the_run_applies_the_choice_and_reports_it(monkeypatch, extractor, content, style, capability) -> None:
    monkeypatch.setattr(device, "detect_capability", lambda _device: capability)
    expected = choose_precision(CPU, "auto", capability)
    run = StyleRun(content, style, StyleConfig(size=32, iterations=2, device="cpu"), extractor=extractor)
    progress = list(run)
    assert run.plan.bf16 is expected.bf16
    assert {p.precision for p in progress} == {expected.label}
    assert run.result().precision == expected.label


def test_bf16_autocasts_the_vgg_pass_only(monkeypatch, extractor, content, style) -> None:
    """Losses stay fp32 under bf16: the history holds finite floats close to the fp32 ones."""
    config = StyleConfig(size=32, iterations=1, device="cpu")
    fp32 = stylize(content, style, config.with_overrides(precision="fp32"), extractor=extractor)
    bf16 = stylize(content, style, config.with_overrides(precision="bf16"), extractor=extractor)
    assert bf16.precision == "bf16 (requested)" and fp32.precision == "fp32 (requested)"
    assert bf16.history[0].total != fp32.history[0].total  # bf16 really ran
    assert bf16.history[0].total == pytest.approx(fp32.history[0].total, rel=0.05)


def test_the_cli_says_the_precision_once_and_stores_it(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setattr(device, "detect_capability", lambda _device: Capability(cpu_bf16="AMX"))
    out = tmp_path / "o.png"
    argv = [str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(out)]
    code = main([*argv, "--size", "32", "--iterations", "1", "--weights", "random", "--device", "cpu"])
    assert code == 0
    err = capsys.readouterr().err
    assert err.count("precision:") == 1 and "stylecore: precision: bf16 (CPU has AMX)" in err
    with Image.open(out) as image:
        assert image.info["stylecore:precision"] == "bf16 (CPU has AMX)"
