"""Nothing a user made is ever lost: each finding of issue 19, broken on purpose, with file hashes before/after."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylecore.cli.main import main
from stylecore.imaging.formats import SNAPSHOT_OF
from stylecore.imaging.images import save_image

from .file_safety_support import FAST, MINE, error_line, hashes, photo, video_argv

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


# --- High 1: --frames-dir deletes and overwrites files it did not make -------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, Path]:
    from stylecore.video.media import write_video

    folder = tmp_path_factory.mktemp("clip")
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (32, 48, 3), dtype=np.uint8) for _ in range(3)]
    write_video(folder / "clip.mp4", iter(frames), Fraction(12))
    return folder / "clip.mp4", photo(folder / "style.png", 2)


_video = video_argv


def test_a_folder_with_a_settings_json_is_not_a_cache(clip, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "editor"
    folder.mkdir()
    (folder / "settings.json").write_text('{"editor.fontSize":14}')
    photo(folder / "000000.png")
    (folder / "notes.txt").write_text("mine")
    before = hashes(folder)
    assert main(_video(clip, tmp_path / "o.mp4", "--frames-dir", str(folder))) == 1
    assert "not a frame cache" in error_line(capsys)
    assert hashes(folder) == before


def test_a_settings_json_link_is_never_written_through(clip, tmp_path: Path, capsys) -> None:
    victim = tmp_path / "victim.json"
    victim.write_text('{"precious": true}')
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "settings.json").symlink_to(victim)
    assert main(_video(clip, tmp_path / "o.mp4", "--frames-dir", str(folder))) == 1
    assert victim.read_text() == '{"precious": true}'


def test_clean_up_deletes_only_the_frames_the_cache_wrote(clip, tmp_path: Path, capsys) -> None:
    from stylecore.video.frame_cache import MARKER

    cache = tmp_path / "o.frames"
    assert main(_video(clip, tmp_path / "o.mp4", "--end", "2", "--keep-frames")) == 0
    assert sorted(json.loads((cache / MARKER).read_text())["frames"]) == [0, 1]
    photo(cache / "000099.png", 9)  # the user's, dropped in later: a frame's name, but not in the manifest
    kept = hashes(cache)["000099.png"]
    assert main(_video(clip, tmp_path / "o.mp4", "--style-weight", "3")) == 0  # other settings: emptied, then removed
    assert hashes(cache) == {"000099.png": kept}


# --- High 2: batch overwrites its inputs ---------------------------------------------------------------------


def test_batch_into_its_own_folder_is_refused(tmp_path: Path, capsys) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    photo(photos / "a.png", 1), photo(photos / "b.jpg", 2)
    before = hashes(photos)
    style = photo(tmp_path / "style.png", 3)
    assert main(["batch", str(photos), str(style), "-o", str(photos), "--overwrite", *FAST]) == 1
    assert "is the input folder" in error_line(capsys)
    assert hashes(photos) == before


def test_batch_never_overwrites_a_style_or_a_file_it_did_not_make(tmp_path: Path, capsys) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir(), out.mkdir()
    photo(photos / "cat.jpg", 1)
    style = photo(out / "cat.png", 2)  # the style lives where cat's result would go
    before = hashes(out)
    assert main(["batch", str(photos), str(style), "-o", str(out), "--overwrite", *FAST]) == 1
    assert "would overwrite the input" in error_line(capsys)
    other = photo(tmp_path / "style.png", 3)
    assert main(["batch", str(photos), str(other), "-o", str(out), "--overwrite", *FAST]) == 1
    assert "exists and was not made by stylecore, so it is kept" in error_line(capsys)
    assert hashes(out) == before


def test_results_do_not_become_inputs_on_the_next_run(tmp_path: Path, capsys) -> None:
    """-o is a glob's folder: the second run would take the first run's results as photos."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    photo(folder / "a.jpg", 1)
    style = photo(tmp_path / "style.png", 3)
    argv = ["batch", str(folder / "*"), str(style), "-o", str(folder), *FAST]
    assert main(argv) == 0
    before = hashes(folder)
    capsys.readouterr()
    assert main(argv) == 0  # a.png, the earlier result, is not taken as a photo
    assert "0 written, 1 already there" in capsys.readouterr().out
    assert hashes(folder) == before


# --- High 3: snapshots overwrite inputs ----------------------------------------------------------------------


def test_snapshot_names_are_checked_against_the_inputs(tmp_path: Path, capsys) -> None:
    content, style = photo(tmp_path / "cat_0002.png", 1), photo(tmp_path / "cat_0004.png", 2)
    before = hashes(tmp_path)
    argv = [str(content), str(style), "-o", str(tmp_path / "cat.png"), *FAST, "--iterations", "6", "--save-every", "2"]
    assert main(argv) == 1
    assert "would overwrite the input" in error_line(capsys)
    assert hashes(tmp_path) == before


# --- High 4: a mask can be the output ------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--regions", "--style-regions"])
def test_a_mask_is_never_the_output(tmp_path: Path, capsys, option: str) -> None:
    content, style = photo(tmp_path / "c.png", 1), photo(tmp_path / "s.png", 2)
    Image.new("L", (40, 32), 255).save(tmp_path / "mask.png")
    before = hashes(tmp_path)
    masks = ["--regions", str(tmp_path / "mask.png")]
    if option == "--style-regions":
        masks = ["--regions", "-", "--style-regions", str(tmp_path / "mask.png")]
    assert main([str(content), str(style), "-o", str(tmp_path / "mask.png"), *masks, *FAST]) == 1
    assert "would overwrite the input" in error_line(capsys)
    assert hashes(tmp_path) == before


def test_a_hard_link_to_an_input_is_the_input(tmp_path: Path, capsys) -> None:
    content, style = photo(tmp_path / "c.png", 1), photo(tmp_path / "s.png", 2)
    os.link(content, tmp_path / "out.png")
    before = hashes(tmp_path)
    assert main([str(content), str(style), "-o", str(tmp_path / "out.png"), *FAST]) == 1
    assert "would overwrite the input" in error_line(capsys)
    assert hashes(tmp_path) == before


def test_only_files_this_tool_made_are_replaced(tmp_path: Path, capsys) -> None:
    content, style = photo(tmp_path / "c.png", 1), photo(tmp_path / "s.png", 2)
    (tmp_path / "out.png").write_bytes(b"my drawing")
    argv = [str(content), str(style), "-o", str(tmp_path / "out.png"), *FAST]
    assert main(argv) == 1
    assert "not made by stylecore" in error_line(capsys)
    assert (tmp_path / "out.png").read_bytes() == b"my drawing"
    (tmp_path / "out.png").unlink()
    assert main(argv) == 0 and main(argv) == 0  # our own result is replaced by the next run


# --- Medium: same stems, truncated results, one bad item -----------------------------------------------------


def test_same_stem_photos_get_their_own_results(tmp_path: Path, capsys) -> None:
    photos = tmp_path / "p"
    photos.mkdir()
    photo(photos / "a.jpg", 1), photo(photos / "a.png", 2), photo(photos / "b.png", 3)
    style = photo(tmp_path / "s.png", 4)
    assert main(["batch", str(photos), str(style), "-o", str(tmp_path / "o"), *FAST]) == 0
    captured = capsys.readouterr()
    assert "3 written" in captured.out and "share a name" in captured.err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.jpg.png", "a.png.png", "b.png"]


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_resume_redoes_a_result_that_does_not_decode(tmp_path: Path, capsys, damage: str) -> None:
    photos = tmp_path / "p"
    photos.mkdir()
    photo(photos / "a.png", 1)
    style = photo(tmp_path / "s.png", 4)
    argv = ["batch", str(photos), str(style), "-o", str(tmp_path / "o"), *FAST]
    assert main(argv) == 0
    result = tmp_path / "o" / "a.png"
    data = result.read_bytes()
    result.write_bytes(b"" if damage == "empty" else data[: len(data) - 40])
    capsys.readouterr()
    assert main(argv) == 0
    assert "1 written, 0 already there" in capsys.readouterr().out
    with Image.open(result) as image:
        image.load()


def test_one_photo_raising_anything_does_not_stop_the_batch(tmp_path: Path, capsys, monkeypatch) -> None:
    import stylecore.optim.run as run_module

    photos = tmp_path / "p"
    photos.mkdir()
    for i, name in enumerate(["a.png", "b.png", "c.png"]):
        photo(photos / name, i)
    real, calls = run_module.stylize, []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:  # the photos go in name order: b.png
            raise RuntimeError("cuDNN said no")
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "stylize", flaky)
    style = photo(tmp_path / "s.png", 4)
    assert main(["batch", str(photos), str(style), "-o", str(tmp_path / "o"), *FAST]) == 1
    captured = capsys.readouterr()
    assert "b.png: RuntimeError: cuDNN said no" in captured.err and "Traceback" not in captured.err
    assert "2 written, 0 already there, 1 failed" in captured.out
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.png", "c.png"]


def test_a_ray_photo_worker_returns_an_unexpected_error_as_that_photos_error(monkeypatch) -> None:
    """Without Ray: the worker class itself, as map_batches would call it."""
    import io

    import stylecore.backends.ray as rb
    from stylecore.config import StyleConfig

    config = StyleConfig(size=32, iterations=1, weights="random:0", content_layers=("conv1_1",),
                         style_layers=("conv1_1",))  # fmt: skip
    worker = rb.PhotoWorker([torch.rand(1, 3, 32, 32)], config, threads=1)
    real = rb.stylize
    monkeypatch.setattr(rb, "stylize", lambda c, *a, **k: (_ for _ in ()).throw(MemoryError("boom")) if
                        c.shape[-1] == 33 else real(c, *a, **k))  # fmt: skip
    files = []
    for width in (32, 33):
        buffer = io.BytesIO()
        Image.new("RGB", (width, 32), "red").save(buffer, format="PNG")
        files.append(np.frombuffer(buffer.getvalue(), np.uint8))
    out = worker({"key": np.array(["0", "1"]), "name": np.array(["good.png", "bad.png"]), "data": files})
    assert out["error"] == ["", "MemoryError: boom"] and out["image"][0].shape == (32, 32, 3)


# --- Medium: bounded work ------------------------------------------------------------------------------------


def test_the_style_at_style_scale_goes_through_the_memory_limit(tmp_path: Path, capsys, monkeypatch) -> None:
    """A fake small budget stands in for the host: a 4800 px style must be refused, never built."""
    from stylecore.config import StyleConfig
    from stylecore.optim.memory import check_image_size

    config = StyleConfig(size=32, weights="random:0", content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"))
    fits = 300 * 2**20
    check_image_size(32, 40, "output", config, budget=fits)  # the output and a same-size style fit ...
    with pytest.raises(Exception, match="lower --size or --style-scale"):
        check_image_size(3200, 4000, "style", config, forward_only=True, budget=fits)  # ... a 100x style does not
    monkeypatch.setattr("stylecore.optim.memory.memory_budget", lambda device: fits)
    content, style = photo(tmp_path / "c.png", 1), photo(tmp_path / "s.png", 2)
    argv = [str(content), str(style), "-o", str(tmp_path / "o.png"), *FAST]
    assert main([*argv, "--style-scale", "100"]) == 1
    assert "style image 1 at style_scale 100" in error_line(capsys)
    assert main([*argv, "--style-scale", "1e9"]) == 1  # was "Storage size calculation overflowed"
    assert "pixel limit" in error_line(capsys)
    assert not (tmp_path / "o.png").exists()


def test_video_frames_from_the_header_go_through_the_pixel_limit(tmp_path: Path) -> None:
    import argparse

    from stylecore.cli.video import _check_frames
    from stylecore.config import StyleConfig
    from stylecore.errors import StylecoreError
    from stylecore.video.chain import VideoSettings
    from stylecore.video.media import Selection, VideoInfo

    args = argparse.Namespace(input=Path("huge.mov"))
    info = VideoInfo(Fraction(25), 2, 12000, 12000, None)
    with pytest.raises(StylecoreError, match=r"huge\.mov: each frame would be 12000x12000 px, over the"):
        _check_frames(args, info, Selection(), StyleConfig(size=32), VideoSettings())


# --- Medium 11: tracebacks become one sentence ---------------------------------------------------------------


def test_huge_style_blend_is_one_line(tmp_path: Path, capsys) -> None:
    content, style = photo(tmp_path / "c.png", 1), photo(tmp_path / "s.png", 2)
    argv = [str(content), str(style), str(style), "-o", str(tmp_path / "o.png"), *FAST, "--style-blend", "1e308,1e308"]
    assert main(argv) == 1
    assert "too large to add up" in error_line(capsys)


@pytest.mark.parametrize(
    ("more", "needle"),
    [(["--stride", "1000000000"], "--stride 1000000000 is longer than"), (["--start", "50"], "selects none")],
)
def test_video_ranges_are_one_line_and_leave_no_cache(clip, tmp_path: Path, capsys, more, needle) -> None:
    assert main(_video(clip, tmp_path / "o.mp4", *more)) == 1
    assert needle in error_line(capsys)
    assert not (tmp_path / "o.frames").exists()


def test_a_video_too_thin_for_optical_flow_is_one_line(tmp_path: Path, capsys) -> None:
    from stylecore.video.media import write_video

    write_video(tmp_path / "thin.mp4", (np.full((2, 1024, 3), 99, np.uint8) for _ in range(3)), Fraction(12))
    style = photo(tmp_path / "s.png", 2)
    assert main(["video", str(tmp_path / "thin.mp4"), str(style), "-o", str(tmp_path / "o.mp4"), *FAST]) == 1
    assert "optical flow needs 12" in error_line(capsys)
    assert not (tmp_path / "o.frames").exists()


@pytest.mark.parametrize(
    ("mask", "needle"),
    [(torch.full((8, 8), float("nan")), "NaN"), (torch.zeros(0, 0), "no pixels"), (torch.ones(8, 8, dtype=torch.uint8),
     "torch.uint8")],
)  # fmt: skip
def test_bad_masks_through_the_python_api_are_one_sentence(mask, needle) -> None:
    from stylecore.errors import ConfigError
    from stylecore.objective.regions import check_mask

    with pytest.raises(ConfigError, match=needle):
        check_mask(mask, "region 1")


def test_a_fully_transparent_mask_is_empty_not_white(tmp_path: Path) -> None:
    from stylecore.imaging.images import load_mask

    Image.new("RGBA", (8, 8), (255, 255, 255, 0)).save(tmp_path / "clear.png")
    assert float(load_mask(tmp_path / "clear.png").max()) == 0


def test_regions_dash_dash_parses(tmp_path: Path, capsys, monkeypatch) -> None:
    content, style = photo(tmp_path / "c.png", 1), photo(tmp_path / "s.png", 2)
    argv = [str(content), str(style), str(style), "-o", str(tmp_path / "o.png"), "--regions", "-,-", *FAST]
    main(argv)
    assert "expected one argument" not in capsys.readouterr().err


def test_batch_workers_zero_is_refused_locally(tmp_path: Path, capsys) -> None:
    photos = tmp_path / "p"
    photos.mkdir()
    photo(photos / "a.png", 1)
    style = photo(tmp_path / "s.png")
    assert main(["batch", str(photos), str(style), "-o", str(tmp_path / "o"), "--workers", "0"]) == 1
    assert "--workers must be at least 1" in error_line(capsys)


def test_batch_does_not_follow_links_out_of_its_folder(tmp_path: Path, capsys) -> None:
    photos, elsewhere = tmp_path / "p", tmp_path / "private"
    photos.mkdir(), elsewhere.mkdir()
    photo(photos / "a.png", 1)
    (photos / "secret.png").symlink_to(photo(elsewhere / "secret.png", 2))
    assert main(["batch", str(photos), str(photo(tmp_path / "s.png")), "-o", str(tmp_path / "o"), *FAST]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.png"]


# --- Fault injection: SIGKILL in the middle of a write leaves the earlier file whole -------------------------

BLOCK_PNG = """
import pathlib, sys, time
flag = pathlib.Path(sys.argv[1])
real_write = pathlib.Path.write_bytes
def write_bytes(self, data):  # half an image at the temporary name, then hang until killed
    if not self.name.startswith(".stylecore-partial-"):
        return real_write(self, data)
    real_write(self, data[: len(data) // 2])
    flag.write_text("writing")
    time.sleep(600)
pathlib.Path.write_bytes = write_bytes
from stylecore.cli.main import main
sys.exit(main(sys.argv[2:]))
"""

BLOCK_VIDEO = """
import pathlib, sys, time
import av
flag = pathlib.Path(sys.argv[1])
real_open = av.open
class Blocking:  # the output container, hanging once its header and first packets are in the file
    def __init__(self, container):
        self._c = container
    def __getattr__(self, name):
        return getattr(self._c, name)
    def __enter__(self):
        self._c.__enter__()
        return self
    def __exit__(self, *exc):
        return self._c.__exit__(*exc)
    def mux(self, packets):
        self._c.mux(packets)
        if packets:
            flag.write_text("writing")
            time.sleep(600)
def opened(path, mode="r", **kw):
    return Blocking(real_open(path, mode, **kw)) if mode == "w" else real_open(path, mode, **kw)
av.open = opened
from stylecore.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def _run_until_writing(code: str, flag: Path, argv: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", code, str(flag), *argv], env=env, stderr=subprocess.PIPE)
    for _ in range(1200):  # up to 120 s for torch to import and the run to reach the write
        if flag.exists() or child.poll() is not None:
            break
        time.sleep(0.1)
    assert flag.exists(), child.stderr.read().decode() if child.stderr else ""
    return child


@pytest.mark.parametrize("which", ["result", "snapshot"])
def test_sigkill_while_writing_an_image_keeps_the_earlier_one(tmp_path: Path, which: str) -> None:
    content, style = photo(tmp_path / "c.png", 1), photo(tmp_path / "s.png", 2)
    target = tmp_path / ("o.png" if which == "result" else "o_0001.png")
    meta = MINE if which == "result" else {**MINE, SNAPSHOT_OF: "o.png"}  # a snapshot replaces only o.png's snapshots
    save_image(torch.rand(1, 3, 8, 8), target, meta)  # an earlier result of this tool: may be replaced, never halved
    before = hashes(tmp_path)
    save_every = "0" if which == "result" else "1"
    argv = [str(content), str(style), "-o", str(tmp_path / "o.png"), *FAST, "--save-every", save_every]
    child = _run_until_writing(BLOCK_PNG, tmp_path.parent / f"{which}.flag", argv)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    assert {k: v for k, v in hashes(tmp_path).items() if not k.startswith(".stylecore-partial-")} == before


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_signal_during_the_final_encode_keeps_the_earlier_video(clip, tmp_path: Path, sig) -> None:
    from stylecore.video.media import write_video

    out = tmp_path / "o.mp4"
    write_video(out, (np.zeros((32, 48, 3), np.uint8) for _ in range(5)), Fraction(12))  # an earlier result
    before = hashes(tmp_path)
    child = _run_until_writing(BLOCK_VIDEO, tmp_path.parent / f"video-{sig.name}.flag", _video(clip, out, "--end", "1"))
    child.send_signal(sig)
    code = child.wait(30)
    if sig == signal.SIGTERM:
        assert code == 143  # not 130: the exit says which signal
    after = {k: v for k, v in hashes(tmp_path).items() if not k.startswith((".stylecore-partial-", "o.frames"))}
    assert after == before


# --- Failures stay local: Ray results, a failing chunk, a failing frame --------------------------------------


def test_a_ray_batch_keeps_every_result_that_came_back_when_ray_fails(tmp_path: Path, capsys, monkeypatch) -> None:
    """Ray itself raising after the first result: that result is written, the rest reported, exit 1."""
    import stylecore.backends.ray as rb

    photos = tmp_path / "p"
    photos.mkdir()
    for i, name in enumerate(["a.png", "b.png", "c.png"]):
        photo(photos / name, i)

    def results(files, styles, config, workers):
        keys = [key for key, _, _ in files]
        yield rb.PhotoResult(keys[0], np.zeros((8, 8, 3), np.uint8), "", "w", "random:0")
        raise RuntimeError("actor died")

    monkeypatch.setattr(rb, "connect", lambda workers: rb.Workers(1, 0.0, 1))
    monkeypatch.setattr(rb, "stylize_photos", results)
    style = photo(tmp_path / "s.png", 4)
    assert main(["batch", str(photos), str(style), "-o", str(tmp_path / "o"), "--backend", "ray", *FAST]) == 1
    captured = capsys.readouterr()
    assert "1 written, 0 already there, 2 failed" in captured.out and "actor died" in captured.err
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["a.png"]


def test_a_ray_video_keeps_the_chunks_that_came_back(clip, tmp_path: Path, capsys, monkeypatch) -> None:
    import stylecore.backends.ray as rb

    def chunks(frames, spans, *args):
        a, b = spans[0]
        yield 0, np.stack([np.full((32, 48, 3), 80, np.uint8)] * (b - a)), "w"
        yield 1, rb.ChunkError("RuntimeError: the worker fell over"), "w"

    monkeypatch.setattr(rb, "connect", lambda workers: rb.Workers(1, 0.0, 1))
    monkeypatch.setattr(rb, "stylize_chunks", chunks)
    out = tmp_path / "o.mp4"
    assert main(_video(clip, out, "--backend", "ray", "--chunk", "2", "--overlap", "0")) == 1
    err = capsys.readouterr().err
    assert "frames 2-2 failed: RuntimeError: the worker fell over" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "o.frames").glob("0*.png")) == ["000000.png", "000001.png"]
    assert out.is_file()  # the two finished frames, playable


def test_a_frame_raising_anything_is_one_line_and_keeps_the_frames_done(clip, tmp_path: Path, capsys, monkeypatch):
    from stylecore.video.chain import FrameChain

    real = FrameChain.start

    def start(self, frame):
        if self.started:
            raise RuntimeError("flow exploded")
        return real(self, frame)

    monkeypatch.setattr(FrameChain, "start", start)
    assert main(_video(clip, tmp_path / "o.mp4")) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: flow exploded" in err and "Traceback" not in err
    assert [p.name for p in (tmp_path / "o.frames").glob("0*.png")] == ["000000.png"]


def test_a_damaged_cached_frame_names_the_cache(clip, tmp_path: Path, capsys) -> None:
    assert main(_video(clip, tmp_path / "o.mp4", "--end", "1", "--keep-frames")) == 0
    (tmp_path / "o.frames" / "000000.png").write_bytes(b"not a png")
    assert main(_video(clip, tmp_path / "o.mp4", "--end", "2")) == 1
    assert f"in {tmp_path / 'o.frames'} cannot be read" in error_line(capsys)


def test_ctrl_c_in_a_batch_exits_130_and_says_so(tmp_path: Path, capsys, monkeypatch) -> None:
    import os
    import signal

    import stylecore.optim.run as run_module

    photos = tmp_path / "p"
    photos.mkdir()
    photo(photos / "a.png", 1), photo(photos / "b.png", 2)
    real = run_module.stylize

    def interrupted(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C during a photo: the command's handler records it
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "stylize", interrupted)
    assert main(["batch", str(photos), str(photo(tmp_path / "s.png")), "-o", str(tmp_path / "o"), *FAST]) == 130
    assert "stopped by SIGINT; run the same command again to go on" in capsys.readouterr().err
    assert not (tmp_path / "o" / "a.png").exists()  # a half-done photo is not a result


def test_a_one_pixel_wide_style_is_named_as_the_style(tmp_path: Path, capsys) -> None:
    content = photo(tmp_path / "c.png", 1)
    Image.new("RGB", (1, 64), "red").save(tmp_path / "thin.png")
    assert main([str(content), str(tmp_path / "thin.png"), "-o", str(tmp_path / "o.png"), *FAST]) == 1
    assert "style image 1 at style_scale 1 would be 1x32 px" in error_line(capsys)
