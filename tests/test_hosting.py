"""Hosting: ZeroGPU detection, import order, and a time budget that always fits the GPU lease."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from demo import hosting
from demo.settings import by_name, table

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("size", range(64, 1025, 32))
def test_every_run_stops_inside_its_lease(size: int) -> None:
    zero = hosting.Hardware("zerogpu", 1024, 2000 * 1024**2, 4, 32, 2, 300, 512, 120.0)
    for iterations in (1, 10, 100, 500, 1000, 2000):
        lease = hosting.lease_seconds(size, iterations)
        budget = hosting.run_budget(zero, size, iterations)
        assert hosting.MIN_LEASE_S <= lease <= hosting.MAX_LEASE_S <= 120  # within an anonymous visitor's quota
        assert 0 < budget <= lease - hosting.LEASE_MARGIN_S


def test_longer_runs_ask_for_longer_leases() -> None:
    assert hosting.lease_seconds(512, 100) < hosting.lease_seconds(512, 1000) <= hosting.MAX_LEASE_S
    assert hosting.lease_seconds(1024, 2000) == hosting.MAX_LEASE_S


def test_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STYLECORE_MAX_SIDE", raising=False)
    monkeypatch.delenv("STYLECORE_TIME_BUDGET", raising=False)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    zero = hosting.detect()
    assert zero.kind == "zerogpu" and zero.concurrency > 1
    assert zero.max_side == hosting.gpu_max_side(hosting.budget_within(hosting.MAX_LEASE_S)) > 1024
    monkeypatch.setenv("SPACES_ZERO_GPU", "")
    monkeypatch.setattr(hosting.torch.cuda, "is_available", lambda: True)
    gpu = hosting.detect()
    assert gpu.kind == "gpu" and gpu.concurrency == 1  # one GPU: one run at a time
    assert gpu.max_side == hosting.gpu_max_side(gpu.time_budget_s) > zero.max_side
    monkeypatch.setattr(hosting.torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("STYLECORE_MAX_SIDE", "128")
    cpu = hosting.detect()
    assert cpu.kind == "cpu" and cpu.max_side == 128 and cpu.default_size == 128
    assert by_name(table(cpu))["size"].control.high == 128


def test_gpu_task_is_the_identity_off_zerogpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACES_ZERO_GPU", "")

    def fn() -> int:
        return 1

    assert hosting.gpu_task(lambda: 10)(fn) is fn


def test_spaces_is_imported_before_torch(tmp_path: Path) -> None:
    """ZeroGPU refuses to start if CUDA was touched before `import spaces`: check the real order."""
    fake = tmp_path / "spaces"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        textwrap.dedent("""
        import sys
        assert "torch" not in sys.modules, "torch was imported before spaces"
        def GPU(duration=None):
            return lambda fn: fn
    """)
    )
    code = "import demo.hosting as h; assert h.spaces is not None; print('ok')"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_the_app_imports_hosting_first() -> None:
    tree = ast.parse((ROOT / "demo" / "app.py").read_text())
    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    stdlib_first = ("__future__", "pathlib", "sys")
    first_third_party = next(
        n for n in imports if (n.names[0].name if isinstance(n, ast.Import) else n.module) not in stdlib_first
    )
    assert isinstance(first_third_party, ast.ImportFrom) and first_third_party.module == "demo"
    assert [a.name for a in first_third_party.names] == ["hosting"]


def test_the_readme_link_points_at_this_space(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACE_ID", "someone/stylecore")
    assert hosting.readme_url("video") == "https://huggingface.co/spaces/someone/stylecore/blob/main/README.md#video"
    monkeypatch.delenv("SPACE_ID")
    assert hosting.readme_url("video") is None


def _spaces_gpus() -> list[dict]:
    """Every GPU model in the installed `spaces` package's own configs.json (the real one from PyPI)."""
    import json
    from importlib.metadata import version
    from importlib.resources import files

    pytest.importorskip("spaces")
    assert version("spaces").startswith("0.51"), version("spaces")
    return list(json.loads(files("spaces.zero").joinpath("configs.json").read_text()))


@pytest.mark.parametrize("gpu", _spaces_gpus(), ids=lambda g: g["model"])
def test_the_lease_times_the_gpus_duration_factor_fits_the_anonymous_quota(gpu: dict, monkeypatch) -> None:
    """spaces schedules ``duration x duration_factor`` for a large task; that must stay within 2 minutes."""
    from datetime import timedelta

    from spaces.zero import client, config

    monkeypatch.setattr(config, "_read_gpu_information", lambda: f"Model: \t {gpu['model']}\n")
    monkeypatch.setattr(config, "get_config", lambda: gpu)
    assert config._get_model(config._read_gpu_information()) == gpu["model"]  # the patch reads as a real GPU
    factor = hosting.duration_factor()
    assert factor == gpu["duration_factor"]
    most = hosting.max_lease_s(factor)
    for size in (64, 512, 1024):
        for iterations in (1, 100, 2000):
            lease = hosting.lease_seconds(size, iterations, most)
            scheduled = client.get_duration_seconds(timedelta(seconds=lease), "large")  # spaces' own arithmetic
            assert scheduled <= hosting.QUOTA_UNAUTHENTICATED_S, (gpu["model"], size, iterations, lease, scheduled)
    assert hosting.lease_seconds(1024, 2000, most) == most  # the longest runs still get the whole room


def test_an_unknown_gpu_gets_the_largest_factor_spaces_knows(monkeypatch) -> None:
    from spaces.zero import config

    monkeypatch.setattr(config, "_read_gpu_information", lambda: None)  # spaces would fall back to H200's 1.0
    assert hosting.duration_factor() == max(g["duration_factor"] for g in _spaces_gpus()) == 1.5
    assert hosting.MAX_LEASE_S * 1.5 <= hosting.QUOTA_UNAUTHENTICATED_S  # the default, off a GPU, is the safe one


@pytest.mark.parametrize("seconds", [5.0, 30.0, 62.0, 300.0, 10_000.0])
def test_a_gpu_hosts_size_cap_is_where_its_time_runs_out(seconds: float) -> None:
    """The cap is the largest side whose estimated steps fit the run's time (tiled above 1024 px)."""
    side = hosting.gpu_max_side(seconds)
    assert side % 32 == 0 and hosting.UNTILED_GPU_SIDE <= side <= hosting.LARGEST_GPU_SIDE
    fits = hosting.STEPS_AT_MAX_SIDE * hosting.seconds_per_step(side) <= seconds
    assert fits or side == hosting.UNTILED_GPU_SIDE  # a short budget keeps the untiled cap
    bigger = hosting.STEPS_AT_MAX_SIDE * hosting.seconds_per_step(side + 32) > seconds
    assert bigger or side == hosting.LARGEST_GPU_SIDE
    assert hosting.seconds_per_step(1056) > hosting.TILED_COST * hosting.seconds_per_step(1024)  # tiles cost more


def test_large_gpu_results_are_tiled_and_cpu_results_never() -> None:
    from demo.settings import check, defaults

    gpu = hosting.Hardware("gpu", hosting.gpu_max_side(300.0), 2000 * 1024**2, 1, 16, 2, 500, 512, 300.0)
    cpu = hosting.Hardware("cpu", 512, 200 * 256**2, 1, 8, 2, 100, 256, 300.0)
    rows = table(gpu)
    raw = defaults(rows) | {"iterations": 100}
    assert check(rows, raw | {"size": 1024}, gpu, two_styles=False).config.tile == 0
    large = check(rows, raw | {"size": gpu.max_side}, gpu, two_styles=False).config
    assert large.size == gpu.max_side > 2048 and large.tile == hosting.GPU_TILE
    small = defaults(table(cpu)) | {"size": 512, "iterations": 10}
    assert check(table(cpu), small, cpu, two_styles=False).config.tile == 0


@pytest.mark.parametrize("size", [1056, 1376, 1728])
def test_a_tiled_run_on_zerogpu_stops_inside_its_lease(size: int) -> None:
    zero = hosting.Hardware("zerogpu", 1728, 2000 * 1024**2, 4, 32, 2, 300, 512, 120.0)
    for iterations in (1, 100, 1000):
        lease = hosting.lease_seconds(size, iterations)
        assert hosting.MIN_LEASE_S <= lease <= hosting.MAX_LEASE_S
        assert 0 < hosting.run_budget(zero, size, iterations) <= lease - hosting.LEASE_MARGIN_S
