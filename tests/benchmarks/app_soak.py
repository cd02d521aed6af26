"""Resident memory of the served app over repeated mixed calls, until it levels off.

``python -m tests.benchmarks.app_soak [ROUNDS]`` (default 6) starts ``python demo/app.py`` in a
fresh process (random weights, an ONNX export made for it), then each round sends, at once,
four ``/extract`` calls (two on a 5000x5000 16-bit PNG, two on a large noisy JPEG) and one
``/stylize`` at 512 px, each from its own session as gradio_client does (one upload per call).
It samples the server's VmRSS every 0.2 s and prints JSON: the resident memory at rest, and
per round the peak and the memory once idle again. Only the server process is measured.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from .request_memory_probe import make_input

REPO = Path(__file__).resolve().parents[2]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise KeyError("VmRSS")


def serve(folder: Path, port: int) -> subprocess.Popen[str]:
    onnx = folder / "onnx"
    subprocess.run([sys.executable, "-m", "export", "--weights", "random:0", "--out", str(onnx), "--no-profile"],
                   cwd=REPO, check=True, capture_output=True)  # fmt: skip
    env = {**os.environ, "STYLECORE_WEIGHTS": "random", "STYLECORE_ONNX_DIR": str(onnx),
           "GRADIO_SERVER_PORT": str(port), "TMPDIR": str(folder), "STYLECORE_UPLOAD_QUOTA_MB": "1000000",
           "GRADIO_MCP_SERVER": "False"}  # fmt: skip
    server = subprocess.Popen([sys.executable, "demo/app.py"], cwd=REPO, env=env, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/config", timeout=5).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("the app did not start")


class Peak(threading.Thread):
    """The highest VmRSS of ``pid`` until :attr:`done` is set, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__()
        self.pid, self.mib, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.mib = max(self.mib, rss_mib(self.pid))
            time.sleep(0.2)


def call(url: str, api_name: str, **kwargs: Any) -> None:
    from gradio_client import Client, handle_file  # type: ignore[import-untyped]

    client = Client(url, verbose=False, httpx_kwargs={"timeout": 600})  # a loaded machine answers slowly
    files = {k: handle_file(str(v)) for k, v in kwargs.items() if isinstance(v, Path)}
    client.predict(**{**kwargs, **files}, api_name=api_name)


def one_round(url: str, png: Path, jpeg: Path, style: Path) -> None:
    with ThreadPoolExecutor(5) as pool:
        jobs = [pool.submit(call, url, "/extract", image=p) for p in (png, jpeg, png, jpeg)]
        jobs.append(pool.submit(call, url, "/stylize", content=jpeg, style=style, size=512, iterations=3))
        for job in jobs:
            job.result()


def main(rounds: int) -> dict[str, Any]:
    from tests.conftest import EXAMPLES, free_port

    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    png, jpeg = make_input("png16", 5000, folder), folder / "big.jpg"
    Image.effect_noise((4000, 3000), 60).convert("RGB").save(jpeg, quality=92)
    port = free_port()
    server = serve(folder, port)
    url = f"http://127.0.0.1:{port}/"
    try:
        time.sleep(2)
        sizes = f"{png.stat().st_size / 1e6:.1f} MB PNG, {jpeg.stat().st_size / 1e6:.1f} MB JPEG"
        result: dict[str, Any] = {"inputs": sizes, "rest_mib": round(rss_mib(server.pid))}
        rows = []
        for _ in range(rounds):
            peak = Peak(server.pid)
            peak.start()
            one_round(url, png, jpeg, EXAMPLES / "strokes.png")
            peak.done.set()
            peak.join()
            time.sleep(3)  # idle again
            rows.append({"peak_mib": round(peak.mib), "idle_mib": round(rss_mib(server.pid))})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        result["rounds"] = rows
        return result
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 6)))
