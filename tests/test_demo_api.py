"""Every client's wait ends: refused values and URL inputs end gradio_client and MCP calls with one sentence."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

from .conftest import EXAMPLES  # noqa: E402

REFUSED = "Iterations must be a whole number from 1 to 2000, got 1e+06."


def _args(**changes: Any) -> dict[str, Any]:
    return dict(content=handle_file(str(EXAMPLES / "chelsea.jpg")), style=handle_file(str(EXAMPLES / "strokes.png")),
                iterations=2, size=64, api_name="/stylize") | changes  # fmt: skip


def _drain(job: Any) -> list[Any]:
    """Iterate a job as the README does; fail (rather than hang) if the loop never ends."""
    seen: list[Any] = []
    loop = threading.Thread(target=lambda: seen.extend(job), daemon=True)
    loop.start()
    loop.join(timeout=120)  # a guard against hanging, not a speed assumption
    assert not loop.is_alive(), "the streamed job never ended"
    return seen


def test_a_streamed_job_with_a_refused_value_ends_with_the_sentence_predict_raises(url: str) -> None:
    client = Client(url, verbose=False)
    job = client.submit(**_args(iterations=10**6))
    assert _drain(job) == []
    with pytest.raises(Exception) as streamed:
        job.result()
    with pytest.raises(Exception) as predicted:
        client.predict(**_args(iterations=10**6))
    assert REFUSED in str(streamed.value) and str(streamed.value) == str(predicted.value)


def test_an_image_url_gets_the_sentence_not_a_bare_400(url: str) -> None:
    from demo.uploads import NO_URLS

    client = Client(url, verbose=False)
    link = "https://example.invalid/photo.jpg"  # never fetched: the app refuses URLs before any download
    with pytest.raises(Exception) as predicted:
        client.predict(**_args(content=handle_file(link)))
    assert NO_URLS in str(predicted.value) and "400" not in str(predicted.value)
    job = client.submit(**_args(content=handle_file(link)))
    _drain(job)
    with pytest.raises(Exception, match="not as http"):
        job.result()


def test_the_api_docs_do_not_promise_urls(url: str) -> None:
    info = httpx.get(url + "gradio_api/info").json()["named_endpoints"]
    for endpoint, names in (("/stylize", ("content", "style", "style2", "region")), ("/extract", ("image",))):
        params = {p["parameter_name"]: p for p in info[endpoint]["parameters"]}
        for name in names:
            said = str(params[name]["type"]).lower() + str(params[name].get("description", "")).lower()
            assert "publicly available" not in said and "urls are refused" in said, (endpoint, name)


def test_an_mcp_call_with_a_refused_value_ends_with_the_sentence(url: str, tmp_path) -> None:
    import asyncio
    import base64

    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    data = "data:image/png;base64," + base64.b64encode((EXAMPLES / "strokes.png").read_bytes()).decode()

    async def call() -> tuple[bool, str]:
        async with streamablehttp_client(f"{url}gradio_api/mcp/") as (read, write, _), ClientSession(read, write) as s:
            await s.initialize()
            result = await asyncio.wait_for(
                s.call_tool("stylize", {"content": data, "style": data, "iterations": 10**6}), timeout=120
            )
            return bool(result.isError), " ".join(getattr(c, "text", "") for c in result.content)

    # MCP calls reach the app through its loopback, so they share 127.0.0.1's share of runs with every
    # other test's calls on this session-wide app: wait (bounded) for runs those tests left going to end.
    for _ in range(60):
        failed, text = asyncio.run(call())
        if "queued or running" not in text:
            break
        time.sleep(2)
    assert failed and REFUSED in text, text
