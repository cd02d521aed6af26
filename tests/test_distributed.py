"""Several ranks on one image: a partial torchrun environment, a group that never forms, a rank that dies.

The ranks are real processes (``python -m stylecore`` with torchrun's environment, gloo on the CPU),
at tiny sizes with random weights; every wait has a guard, so a hang fails the test instead of CI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from stylecore.backends.distributed import Ranks, _world_from, timeout_s
from stylecore.cli.main import main
from stylecore.errors import StylecoreError

from .conftest import EXAMPLES, free_port

GUARD_S = 240  # against hanging only; nothing here is timed
QUICK = ["--size", "64", "--tile", "32", "--weights", "random:0", "--content-layers", "conv2_1",
         "--style-layers", "conv1_1,conv2_1", "-q"]  # fmt: skip


def _env(rank: int, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    return env | {"WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
                  "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()} | extra  # fmt: skip


def _rank(rank: int, port: int, out: Path, *extra: str, **env: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "stylecore", str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"),
            "-o", str(out), *QUICK, *extra]  # fmt: skip
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(rank, port, **env)
    )


def _one_sentence(stderr: str) -> str:
    """The error line; there is exactly one and no traceback."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("stylecore: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.mark.parametrize(
    ("env", "needle"),
    [({"WORLD_SIZE": "2"}, "WORLD_SIZE=2 is set but RANK, MASTER_ADDR, MASTER_PORT are not; start stylecore with "
                           "torchrun (torchrun --nproc_per_node 2 -m stylecore ...) or unset WORLD_SIZE"),
     ({"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "h"}, "MASTER_PORT is not"),
     ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' is not a number of processes"),
     ({"WORLD_SIZE": "2", "RANK": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"}, "RANK='2' is not a rank from 0 to 1")],
)  # fmt: skip
def test_a_partial_torchrun_environment_is_one_sentence(env: dict[str, str], needle: str) -> None:
    with pytest.raises(StylecoreError) as refused:
        _world_from(env)
    assert needle in str(refused.value) and "\n" not in str(refused.value)
    assert _world_from({}) == (0, 1) and _world_from({"WORLD_SIZE": "1"}) == (0, 1)


def test_a_partial_environment_stops_the_command_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "out.png"
    assert main([str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(out), *QUICK]) == 1
    assert "RANK, MASTER_ADDR, MASTER_PORT are not" in _one_sentence(capsys.readouterr().err)
    assert not out.exists()


def test_the_timeout_is_checked() -> None:
    assert timeout_s({}) == 300 and timeout_s({"STYLECORE_DIST_TIMEOUT": "2.5"}) == 2.5
    with pytest.raises(StylecoreError, match="STYLECORE_DIST_TIMEOUT='0' must be a number of seconds above 0"):
        timeout_s({"STYLECORE_DIST_TIMEOUT": "0"})


def test_a_lost_peer_without_an_image_says_so_and_others_pass() -> None:
    saved: list[object] = []
    alone = Ranks()
    with pytest.raises(RuntimeError, match="gloo"), alone.together(saved.append):
        raise RuntimeError("gloo: not in a group, so not ours")  # one process: nothing is caught
    pair = Ranks(0, 2)
    lost = pytest.raises(StylecoreError, match="before the first step; there is no image to save yet")
    with lost, pair.together(saved.append):
        raise RuntimeError("[pair.cc:545] Read error: Connection reset by peer")
    with pytest.raises(ValueError), pair.together(saved.append):
        raise ValueError("not a lost peer")
    assert saved == []


@pytest.mark.slow
def test_a_group_that_never_forms_times_out_with_a_sentence(tmp_path: Path) -> None:
    port = free_port()
    rank0 = _rank(0, port, tmp_path / "out.png", STYLECORE_DIST_TIMEOUT="3")  # rank 1 never starts
    _, stderr = rank0.communicate(timeout=GUARD_S)
    assert rank0.returncode == 1
    assert _one_sentence(stderr) == (
        f"stylecore: error: the 2 processes of WORLD_SIZE=2 did not all join at 127.0.0.1:{port} within 3 s; "
        "start every rank (torchrun does) or unset WORLD_SIZE"
    )


@pytest.mark.slow
def test_sigterm_ends_a_rendezvous_that_waits(tmp_path: Path) -> None:
    rank0 = _rank(0, free_port(), tmp_path / "out.png")  # the default timeout: minutes
    try:
        line = ""
        while "waiting for the 2 ranks" not in line:  # said just before the wait starts
            line = rank0.stderr.readline() if rank0.stderr else ""
            assert line or rank0.poll() is None, "rank 0 ended before it waited"
        time.sleep(1)  # into the wait (a signal before it is handled the same way)
        rank0.send_signal(signal.SIGTERM)
        _, stderr = rank0.communicate(timeout=GUARD_S)
    finally:
        rank0.kill()
    assert rank0.returncode == 128 + signal.SIGTERM
    assert "stylecore: interrupted by SIGTERM" in stderr and "Traceback" not in stderr


@pytest.mark.slow
def test_two_ranks_finish_and_only_rank_0_says_wrote(tmp_path: Path) -> None:
    port, out = free_port(), tmp_path / "out.png"
    ranks = [_rank(r, port, out, "--iterations", "2") for r in (0, 1)]
    streams = [p.communicate(timeout=GUARD_S) for p in ranks]
    assert [p.returncode for p in ranks] == [0, 0], streams
    assert [stdout.count("wrote ") for stdout, _ in streams] == [1, 0]
    assert max(Image.open(out).size) == 64


def _start_and_kill(tmp_path: Path, victim: int) -> tuple[subprocess.Popen[str], str, Path]:
    """Two ranks on a long run; once rank 0 has written a snapshot, SIGKILL ``victim``; the survivor's stderr."""
    port, out = free_port(), tmp_path / "out.png"
    ranks = [_rank(r, port, out, "--iterations", "100000", "--save-every", "2") for r in (0, 1)]
    try:
        deadline = time.monotonic() + GUARD_S
        while not list(tmp_path.glob("out_*.png")):  # steps are going on every rank
            assert time.monotonic() < deadline and all(p.poll() is None for p in ranks), "no step was completed"
            time.sleep(0.2)
        ranks[victim].send_signal(signal.SIGKILL)
        survivor = ranks[1 - victim]
        _, stderr = survivor.communicate(timeout=GUARD_S)
    finally:
        for p in ranks:
            p.kill()
            p.communicate()
    return survivor, stderr, out


@pytest.mark.slow
def test_rank_0_saves_the_last_step_when_a_peer_dies(tmp_path: Path) -> None:
    survivor, stderr, out = _start_and_kill(tmp_path, victim=1)
    assert survivor.returncode == 1
    error = _one_sentence(stderr)
    assert error.startswith("stylecore: error: another of the 2 ranks stopped answering after step ")
    assert error.endswith(f"; saved the image of step {error.split('after step ')[1].split(';')[0]} to {out}")
    with Image.open(out) as image:
        assert max(image.size) == 64
        step = int(error.split("after step ")[1].split(";")[0])
        assert step >= 2  # a snapshot had been written, so at least two steps had completed


@pytest.mark.slow
def test_rank_1_ends_with_a_sentence_when_rank_0_dies(tmp_path: Path) -> None:
    survivor, stderr, out = _start_and_kill(tmp_path, victim=0)
    assert survivor.returncode == 1
    assert "this rank ends too, and rank 0 saves the image if it is still running" in _one_sentence(stderr)
    assert not out.exists()  # rank 1 never writes
