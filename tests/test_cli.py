import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from stylecore.cli import build_parser, config_from_args, main, snapshot_path

from .conftest import EXAMPLES


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m stylecore`` in a subprocess: real argv, exit code and streams."""
    full_env = {**os.environ, "STYLECORE_WEIGHTS": "random", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "stylecore", *args], capture_output=True, text=True, env=full_env, timeout=300
    )


def _assert_one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr


@pytest.mark.slow
def test_end_to_end_writes_output_and_snapshots(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    proc = _run(
        str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(out),
        "--size", "48", "--iterations", "4", "--save-every", "2", "--optimizer", "lbfgs",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "UNTRAINED" in proc.stderr and "wrote" in proc.stdout
    with Image.open(out) as image:
        assert image.size == (48, 32)  # chelsea is 451x300: long side 48, aspect kept
        assert "UNTRAINED" in image.info["stylecore:weights"]
        assert '"optimizer": "lbfgs"' in image.info["stylecore:config"]
    assert (tmp_path / "out_0002.png").is_file() and not (tmp_path / "out_0004.png").exists()


def test_missing_file_error(tmp_path: Path) -> None:
    proc = _run(str(tmp_path / "nope.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(tmp_path / "o.png"))
    _assert_one_line_error(proc, "no such file")


def test_non_image_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    proc = _run(str(EXAMPLES / "chelsea.jpg"), str(text), "-o", str(tmp_path / "o.png"))
    _assert_one_line_error(proc, "not a recognised image")


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        (["--optimizer", "sgd"], "invalid choice: 'sgd'"),
        (["--size", "big"], "invalid int value"),
        (["--size", "4"], "size must be an integer in [32, 8192]"),
        (["--style-layers", "relu9_9"], "unknown layer 'relu9_9'; valid: conv1_1"),
        (["--tv-weight", "-1"], "tv_weight must be a finite number >= 0"),
    ],
)
def test_bad_option_values(tmp_path: Path, option: list[str], needle: str) -> None:
    proc = _run(str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(tmp_path / "o.png"), *option)
    _assert_one_line_error(proc, needle)


def test_offline_without_weights_is_one_actionable_line(tmp_path: Path) -> None:
    # A dead proxy makes the download fail fast even on a machine with network.
    env = {"STYLECORE_WEIGHTS": "", "TORCH_HOME": str(tmp_path), "https_proxy": "http://127.0.0.1:9"}
    proc = _run(str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(tmp_path / "o.png"), env=env)
    _assert_one_line_error(proc, "VGG19 ImageNet weights not found")
    assert "STYLECORE_WEIGHTS" in proc.stderr and "vgg19-dcbb9e9d.pth" in proc.stderr


def test_preset_then_explicit_options() -> None:
    args = build_parser().parse_args(["c.jpg", "s.jpg", "-o", "o.png", "--preset", "gatys", "--iterations", "7"])
    config = config_from_args(args)
    assert config.optimizer == "lbfgs" and config.iterations == 7 and config.content_layers == ("relu4_2",)
    args = build_parser().parse_args(["c.jpg", "s.jpg", "-o", "o.png", "--content-layers", "21,relu5_1"])
    assert config_from_args(args).content_layers == ("conv4_2", "relu5_1")


def test_output_must_be_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(tmp_path / "o.jpg")])
    assert code == 1 and "must end in .png" in capsys.readouterr().err


def test_snapshot_names_sort_by_iteration() -> None:
    assert snapshot_path(Path("a/out.png"), 200, 1000).name == "out_0200.png"
    assert snapshot_path(Path("out.png"), 5, 20000).name == "out_00005.png"


def test_convert_writes_compact_safetensors(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file
    from torchvision.models import vgg19

    torch.manual_seed(0)
    state = vgg19(weights=None).state_dict()
    source = tmp_path / "vgg19.pth"
    torch.save(state, source)
    out = tmp_path / "vgg19_features.safetensors"
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from stylecore.cli import convert_main; sys.exit(convert_main())",
         str(source), str(out)], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    converted = load_file(str(out))
    assert len(converted) == 32 and torch.equal(converted["34.weight"], state["features.34.weight"])
    assert out.stat().st_size < source.stat().st_size / 5
