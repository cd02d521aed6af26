import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from stylecore.cli.common import config_from_args
from stylecore.cli.convert import convert_main
from stylecore.cli.image import build_parser, snapshot_path
from stylecore.cli.main import main

from .conftest import EXAMPLES


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m stylecore`` in a subprocess: real argv, exit code and streams."""
    full_env = {**os.environ, "STYLECORE_WEIGHTS": "random", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "stylecore", *args], capture_output=True, text=True, env=full_env, timeout=300
    )


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


def test_missing_file_error(tmp_path: Path, capsys) -> None:
    argv = [str(tmp_path / "nope.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(tmp_path / "o.png")]
    assert "nope.jpg: no such file" in _main_error(capsys, argv)


def test_non_image_error(tmp_path: Path, capsys) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    argv = [str(EXAMPLES / "chelsea.jpg"), str(text), "-o", str(tmp_path / "o.png")]
    assert "notes.jpg: not a recognised image" in _main_error(capsys, argv)


def _main_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run main() in-process; return its one stderr line (argparse errors exit 2, the rest return 1)."""
    try:
        code = main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code in (1, 2) and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        (["--optimizer", "sgd"], "invalid choice: 'sgd'"),
        (["--size", "big"], "invalid int value"),
        (["--size", "4"], "size must be an integer in [32, 8192]"),
        (["--style-layers", "relu9_9"], "unknown layer 'relu9_9'; valid: conv1_1"),
        (["--tv-weight", "-1"], "tv_weight must be a finite number >= 0"),
        (["--seed", str(2**70)], "seed must be an integer in [0, 9223372036854775807]"),
    ],
)
def test_bad_option_values(tmp_path: Path, capsys, option: list[str], needle: str) -> None:
    argv = [str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(tmp_path / "o.png"), *option]
    assert needle in _main_error(capsys, argv)
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(
    ("output", "needle"),
    [
        ("/sys/out.png", "cannot write there"),
        ("{tmp}/a_file.txt/out.png", "cannot write there"),
        ("{examples}/chelsea.png", "would overwrite the input"),
    ],
)
def test_bad_outputs_are_refused_before_the_run(tmp_path: Path, capsys, monkeypatch, output: str, needle: str) -> None:
    (tmp_path / "a_file.txt").write_text("x")
    photo = tmp_path / "chelsea.png"
    Image.open(EXAMPLES / "chelsea.jpg").save(photo)
    before = photo.read_bytes()
    monkeypatch.setattr("stylecore.model.extractor.vgg19_extractor", _no_model_please)
    argv = [str(photo), str(EXAMPLES / "strokes.png"), "-o", output.format(tmp=tmp_path, examples=tmp_path)]
    assert needle in _main_error(capsys, argv)
    assert photo.read_bytes() == before


def _no_model_please(*args: object, **kwargs: object) -> None:
    raise AssertionError("the output should have been refused before loading the model")


def test_a_failed_final_write_saves_to_a_fallback(tmp_path: Path, capsys, monkeypatch) -> None:
    import stylecore.imaging.images as imageio

    out = tmp_path / "out.png"
    real_save = imageio.save_image

    def flaky_save(image: object, path: Path, meta: object = None, **kwargs: object) -> Path:
        if Path(path) == out:
            raise PermissionError(13, "Permission denied")
        return real_save(image, path, meta, **kwargs)

    monkeypatch.setattr(imageio, "save_image", flaky_save)
    monkeypatch.setenv("STYLECORE_WEIGHTS", "random")
    argv = [str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(out), "--size", "48",
            "--iterations", "1", "-q"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "could not write" in err and "Permission denied" in err
    fallback = Path(err.split("saved the result to ")[1])
    with Image.open(fallback) as image:
        assert image.size == (48, 32)
    fallback.unlink()


def test_interrupt_while_starting_up_is_one_line(capsys, monkeypatch) -> None:
    """A signal before the run (imports, weights) aborts cleanly; the handler is in place from the start."""
    import signal

    def interrupted_parser() -> None:
        handler = signal.getsignal(signal.SIGINT)
        assert getattr(handler, "__self__", None).__class__.__name__ == "Interrupts"  # installed before imports
        assert signal.getsignal(signal.SIGTERM) == handler
        handler(signal.SIGINT, None)  # what a Ctrl-C now does

    monkeypatch.setattr("stylecore.cli.image.build_parser", interrupted_parser)
    assert main(["c.jpg", "s.jpg", "-o", "o.png"]) == 130
    assert capsys.readouterr().err == "stylecore: interrupted by SIGINT\n"


@pytest.mark.slow
def test_sigterm_during_the_run_saves_the_image(tmp_path: Path) -> None:
    import signal
    import time

    out = tmp_path / "out.png"
    args = [str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(out), "--size", "48",
            "--iterations", "100000", "--save-every", "1", "-q"]  # fmt: skip
    env = {**os.environ, "STYLECORE_WEIGHTS": "random"}
    proc = subprocess.Popen([sys.executable, "-m", "stylecore", *args], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 300  # only a guard against hanging: the test waits for a file, not a time
    while not (tmp_path / "out_000001.png").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "SIGTERM: stopped at iteration" in err and "Traceback" not in err
    with Image.open(out) as image:
        assert image.size == (48, 32)


def test_offline_without_weights_is_one_actionable_line(tmp_path: Path, capsys, monkeypatch) -> None:
    import torch

    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    argv = [str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(tmp_path / "o.png")]
    line = _main_error(capsys, argv)
    assert "VGG19 ImageNet weights not found" in line and "STYLECORE_WEIGHTS" in line and "vgg19-dcbb9e9d.pth" in line


def test_preset_then_explicit_options() -> None:
    args = build_parser().parse_args(["c.jpg", "s.jpg", "-o", "o.png", "--preset", "gatys", "--iterations", "7"])
    config = config_from_args(args)
    assert config.optimizer == "lbfgs" and config.iterations == 7 and config.content_layers == ("relu4_2",)
    args = build_parser().parse_args(["c.jpg", "s.jpg", "-o", "o.png", "--content-layers", "21,relu5_1"])
    assert config_from_args(args).content_layers == ("conv4_2", "relu5_1")


def test_output_must_be_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(tmp_path / "o.jpg")]
    assert "must end in .png" in _main_error(capsys, argv)


def test_snapshot_names_sort_by_iteration() -> None:
    assert snapshot_path(Path("a/out.png"), 200, 1000).name == "out_0200.png"
    assert snapshot_path(Path("out.png"), 5, 20000).name == "out_00005.png"


def test_convert_writes_compact_safetensors(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from .conftest import torchvision_checkpoint, torchvision_features

    state = torchvision_checkpoint(torchvision_features())
    source = tmp_path / "vgg19.pth"
    torch.save(state, source)
    out = tmp_path / "vgg19_features.safetensors"
    assert convert_main([str(source), str(out)]) == 0
    converted = load_file(str(out))
    assert len(converted) == 32 and torch.equal(converted["34.weight"], state["features.34.weight"])
    assert not any(key.startswith("classifier") for key in converted)  # the classifier is dropped
    assert convert_main([str(source), str(out)]) == 0  # its own output is replaced by a rerun


@pytest.mark.timeout(120, method="signal")
def test_convert_keeps_what_it_did_not_make_and_never_opens_a_fifo(tmp_path: Path, capsys) -> None:
    import os

    mine, fifo = tmp_path / "mine.safetensors", tmp_path / "fifo.safetensors"
    mine.write_text("my notes")
    os.mkfifo(fifo)
    assert convert_main(["random:0", str(mine)]) == 1
    assert "mine.safetensors exists and was not made by stylecore-convert" in capsys.readouterr().err
    assert convert_main(["random:0", str(fifo)]) == 1
    assert "is a FIFO, not a regular file" in capsys.readouterr().err
    assert mine.read_text() == "my notes" and sorted(os.listdir(tmp_path)) == ["fifo.safetensors", "mine.safetensors"]


def _mask(path: Path, size: tuple[int, int], left_white: bool = True) -> Path:
    image = Image.new("L", size, 0)
    image.paste(255, (0, 0, size[0] // 2, size[1])) if left_white else None
    image.save(path)
    return path


def test_regions_put_each_style_in_its_place(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("STYLECORE_WEIGHTS", "random")
    left = _mask(tmp_path / "left.png", (451, 300))
    out = tmp_path / "out.png"
    argv = [str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), str(EXAMPLES / "hubble.jpg"),
            "--regions", f"{left},-", "-o", str(out), "--size", "48", "--iterations", "2", "-q"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    with Image.open(out) as image:
        assert image.size == (48, 32)


@pytest.mark.parametrize(
    ("masks", "needle"),
    [
        ("{left}", "--regions has 1 masks for 2 style images"),
        ("{black},-", "black.png is all black: its style would apply nowhere"),
        ("{tmp}/nope.png,-", "nope.png: no such file"),
    ],
)
def test_bad_regions_are_one_line(tmp_path: Path, capsys, monkeypatch, masks: str, needle: str) -> None:
    monkeypatch.setenv("STYLECORE_WEIGHTS", "random")
    left = _mask(tmp_path / "left.png", (451, 300))
    black = _mask(tmp_path / "black.png", (451, 300), left_white=False)
    argv = [str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), str(EXAMPLES / "hubble.jpg"),
            "--regions", masks.format(left=left, black=black, tmp=tmp_path), "-o", str(tmp_path / "o.png")]  # fmt: skip
    assert needle in _main_error(capsys, argv)


def test_a_mask_of_another_shape_is_stretched_with_a_warning(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("STYLECORE_WEIGHTS", "random")
    square = _mask(tmp_path / "square.png", (100, 100))
    argv = [str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), str(EXAMPLES / "hubble.jpg"),
            "--regions", f"{square},-", "-o", str(tmp_path / "o.png"), "--size", "48", "--iterations", "1",
            "-q"]  # fmt: skip
    assert main(argv) == 0
    assert "square.png is 100x100, another shape than the content (451x300); it is stretched to fit" in (
        capsys.readouterr().err
    )


def test_style_regions_from_the_command_line(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("STYLECORE_WEIGHTS", "random")
    left = _mask(tmp_path / "left.png", (451, 300))
    top = _mask(tmp_path / "top.png", (384, 384))
    base = [str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), str(EXAMPLES / "hubble.jpg"),
            "-o", str(tmp_path / "o.png"), "--size", "48", "--iterations", "1", "-q"]  # fmt: skip
    assert main([*base, "--regions", f"{left},-", "--style-regions", f"{top},-"]) == 0
    capsys.readouterr()
    assert "--style-regions needs --regions too" in _main_error(capsys, [*base, "--style-regions", f"{top},-"])
