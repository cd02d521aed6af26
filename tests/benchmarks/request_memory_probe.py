"""Memory of one app request for the largest input the app accepts, in a fresh process.

``python -m tests.benchmarks.request_memory_probe {extract,stylize} {jpeg,png16} SIDE``

The input is a SIDE x SIDE file just under the app's 25-megapixel header limit
(a noisy JPEG, or a 16-bit greyscale PNG: the case that used to cost 1.6 GB).
It goes through the app's own path, minus HTTP: the upload check, the decode at
the size the request needs, then /extract's ONNX Grams or one /stylize step at
the host's largest size. Prints JSON: resident memory with the models loaded,
and the peak of the request above it (VmHWM; see memory_probe.py).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from .memory_probe import peak_rss_mib, rss_mib


def make_input(kind: str, side: int, folder: Path) -> Path:
    if kind == "png16":
        path = folder / "big16.png"
        ramp = (np.arange(side, dtype=np.uint32) * 65535 // side).astype(np.uint16)
        Image.fromarray(np.broadcast_to(ramp, (side, side)).copy()).save(path)  # a small file, 2 bytes a pixel
    else:
        path = folder / "big.jpg"
        Image.effect_noise((side, side), 40).convert("RGB").save(path, quality=85)
    return path


def main(endpoint: str, kind: str, side: int) -> dict[str, float | str]:
    os.environ.setdefault("STYLECORE_WEIGHTS", "random")
    from demo import inputs, models, service
    from demo.hosting import detect
    from demo.outputs import OutputDir
    from demo.uploads import Upload, check_header
    from stylecore import PRESETS, resolve_device

    hardware = detect()
    folder = Path(tempfile.mkdtemp())
    path = make_input(kind, side, folder)
    size = path.stat().st_size
    loaded = models.load_models(folder, device=str(resolve_device("auto")), onnx_providers=["CPUExecutionProvider"])
    upload = Upload(path, path.name, check_header(path, path.name))  # the app's header check
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM: loading the models peaked higher
    before = rss_mib()
    if endpoint == "extract":
        service.extract_grams(loaded, inputs.read_upload(upload, "", hardware.max_side), OutputDir())
    else:
        config = PRESETS["original"].with_overrides(size=hardware.max_side, iterations=1, save_every=0)
        photo = inputs.read_upload(upload, "", config.size)
        for _ in service.stream(loaded, photo, [photo], config):
            pass
    peak = peak_rss_mib() - before
    described = f"{side}x{side} {kind}, {size / 1e6:.2f} MB"
    return {"endpoint": endpoint, "input": described, "models_rss_mib": round(before), "request_peak_mib": round(peak)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
