"""The Space's front matter and requirements.txt against what the platform supports.

The supported lists are data (``demo/zerogpu_support.json``, with their source),
so a platform update is one edit there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from stylecore.model.weights import HUB_FILE, HUB_REPO

ROOT = Path(__file__).resolve().parent.parent
SUPPORT = json.loads((ROOT / "demo" / "zerogpu_support.json").read_text())
#: The values hub-docs spaces-config-reference.md lists for `suggested_hardware` ("must be a valid
#: hardware flavor"), checked 2026-12-02. ZeroGPU (`zero-a10g` in the API) is not among them.
FLAVOURS = {"cpu-basic", "cpu-upgrade", "t4-small", "t4-medium", "l4x1", "l4x4", "l40sx1", "l40sx4", "l40sx8",
            "a10g-small", "a10g-large", "a10g-largex2", "a10g-largex4", "a100-large", "a100x4", "a100x8"}  # fmt: skip


@pytest.fixture(scope="module")
def front_matter() -> dict:
    text = (ROOT / "README.md").read_text()
    match = re.match(r"^---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "README.md must start with the Space's YAML front matter"
    return dict(yaml.safe_load(match.group(1)))


def _app_gradio() -> Requirement:
    """The app's gradio requirement (pyproject's ``demo`` extra): the minimum the Space's sdk_version must meet."""
    import tomllib

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["demo"]
    return next(r for r in map(Requirement, extra) if r.name == "gradio")


@pytest.fixture(scope="module")
def pins() -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    return dict(re.split(r"==", line, maxsplit=1) for line in lines if "==" in line)


def test_python_and_gradio_versions_are_supported(front_matter: dict) -> None:
    assert front_matter["sdk"] == "gradio" and front_matter["python_version"] in SUPPORT["python"]
    assert int(front_matter["sdk_version"].split(".")[0]) >= SUPPORT["gradio_min_major"]
    assert Version(front_matter["sdk_version"]) in _app_gradio().specifier  # a real version the app supports
    assert (ROOT / front_matter["app_file"]).is_file()
    assert front_matter["suggested_hardware"] in FLAVOURS


def test_torch_and_torchvision_are_a_supported_pair(pins: dict[str, str]) -> None:
    assert pins["torch"] in SUPPORT["torch"], f"ZeroGPU supports torch {sorted(SUPPORT['torch'])}"
    assert pins["torchvision"] == SUPPORT["torch"][pins["torch"]]


def test_one_onnxruntime_package_only() -> None:
    names = {re.split(r"[<>=\[; ]", line.strip())[0] for line in (ROOT / "requirements.txt").read_text().splitlines()}
    assert "onnxruntime-gpu" in names and "onnxruntime" not in names
    assert "mcp" in names


def test_weights_are_preloaded_from_the_hub(front_matter: dict) -> None:
    assert HUB_REPO in front_matter["models"]
    assert f"{HUB_REPO} {HUB_FILE}" in front_matter["preload_from_hub"]
