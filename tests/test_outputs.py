"""Result files: private, race-free clean-up that never follows links or leaves its folder."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from demo.outputs import OutputDir, safe_name, seal


class Clock:
    def __init__(self, now: float = 1e9) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _age(path: Path, seconds: float, clock: Clock) -> None:
    os.utime(path, (clock.now - seconds, clock.now - seconds), follow_symlinks=False)


def test_results_are_private_and_keep_a_readable_name() -> None:
    outputs = OutputDir()
    path = outputs.new_file("stylecore-chelsea-strokes.png")
    path.write_bytes(b"png")
    seal(path)
    assert path.name == "stylecore-chelsea-strokes.png"
    assert stat.S_IMODE(outputs.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert outputs.new_file("stylecore-chelsea-strokes.png") != path  # no collisions


def test_clean_up_never_follows_a_planted_link(tmp_path: Path) -> None:
    clock = Clock()
    outputs = OutputDir(keep_s=3600, clock=clock)
    victim = tmp_path / "someone_elses"
    victim.mkdir()
    (victim / "precious.png").write_bytes(b"x")
    _age(victim / "precious.png", 7200, clock)
    link = outputs.root / "planted"
    link.symlink_to(victim)
    _age(link, 7200, clock)
    outputs.clean()
    assert not link.exists() and not link.is_symlink()  # the link goes ...
    assert (victim / "precious.png").read_bytes() == b"x"  # ... what it pointed at stays


def test_only_stale_results_go_and_stale_folders_break_nothing() -> None:
    clock = Clock()
    outputs = OutputDir(keep_s=3600, clock=clock)
    old = outputs.new_file("old.png")
    old.write_bytes(b"x")
    _age(old.parent, 7200, clock)
    fresh = outputs.new_file("fresh.png")  # new_file cleans first
    fresh.write_bytes(b"y")
    assert not old.parent.exists() and fresh.read_bytes() == b"y"


def test_concurrent_clean_ups_do_not_trip_over_each_other() -> None:
    clock = Clock()
    outputs = OutputDir(keep_s=3600, clock=clock)
    for i in range(40):
        path = outputs.new_file(f"r{i}.png")
        path.write_bytes(b"x")
        _age(path.parent, 7200, clock)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            outputs.new_file("n.png").write_bytes(b"z")
        except BaseException as exc:  # any failure is the finding
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(list(outputs.root.iterdir())) == 12


def test_names_are_made_safe() -> None:
    assert safe_name("../../etc/passwd") == "etc-passwd"
    assert safe_name("a b\nc.png") == "a-b-c.png"
    assert safe_name("...") == "result"
