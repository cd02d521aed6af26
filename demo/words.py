"""Everything the page says, in one place: headings, notices, the status line and the code snippet.

No Gradio here. Words are for artists: what a control does to the picture, not the
engine's name for it (that is in the API documentation, :mod:`demo.settings`).
"""

from __future__ import annotations

from . import hosting
from .hosting import Hardware

TITLE = "stylecore: neural style transfer"
HEADING = "# Paint a photo in an artwork's style\nPick a photo and a style image (or an example), then press Run."
#: The status line before the first run.
READY = "Ready: add a photo and a style image, then press Run."
UNTRAINED = "**Untrained random weights: a smoke test, not real style transfer.**"
#: The one sentence at the top, and Run's reason, when the app has no VGG19 weights.
OFFLINE = "Style transfer is off on this server for now: it has no VGG19 weights."
STARTING = "Starting…"
#: Next to the disabled Run button when the app has no weights.
RUN_OFF = "Run is off until this server has the model weights (see above)."
#: Where each message sits, as the status line names it.
PLACES = {
    "content-message": "under the photo",
    "style-message": "under the style image",
    "style2-message": "under the second style image (More settings)",
    "region-message": "under the region (More settings)",
    "run-message": "under Run",
}
RUN_DOC = """Paint a photo in the style of an artwork (Gatys et al. neural style transfer on VGG19).

Streams previews while the picture is optimised, then the finished PNG.

Args:
    content: the photo whose layout is kept (an uploaded file; URLs are refused).
    style: the artwork whose colours and textures are copied (an uploaded file).
    style2: optional second artwork, blended with the first (or placed by a region).
    region: optional greyscale mask over the photo: white is where the second artwork goes.
    painted: the same region painted in the page's editor (its first layer; API callers use ``region``).
"""
EXTRACT_DOC = """Gram matrices of VGG19's conv1_1 … conv5_1 for one image, computed with ONNX Runtime.

Args:
    image: the image to describe (an uploaded file); its long side is reduced to the app's size limit first.
"""


def sentence(message: str) -> str:
    """Every message the page shows in one style: a capital first letter and a full stop."""
    message = message.strip() or "Something went wrong; try again."
    return message[0].upper() + message[1:] + ("" if message[-1] in ".!?" else ".")


def not_started(where: str, *, ran: bool = False) -> str:
    """The status line when a problem stopped the run; the problem itself is next to its cause."""
    return f"{'The run ended early' if ran else 'Not started'}: see the message {PLACES[where]}."


def precision(label: str) -> str:
    """The run's precision in artists' words: only bf16 is worth a word (the engine's reason stays in the PNG)."""
    return "Faster, same look (bf16)" if label.startswith("bf16") else ""


def status(done: int, total: int, seconds: float, precision_label: str, *, final: bool = False,
           trained: bool = True, notes: list[str] | None = None) -> str:  # fmt: skip
    """The status line: where the run is and how long it took."""
    verb = "Done" if final else "Running"
    parts = [f"{verb}: step {done} / {total}", precision(precision_label), f"{seconds:.1f} s."]
    line = " · ".join(p for p in parts if p)
    untrained = "" if trained else f" {UNTRAINED}"
    extra = "".join(f" Note: {sentence(n)}" for n in notes or [])
    return f"{line}{untrained}{extra}"


def stopped(image: tuple[int, int] | None, shown: tuple[int, int] | None) -> str:
    """Stop's status line: the step whose image is the download, or where the run was."""
    if image:
        return f"Stopped at step {image[0]} of {image[1]}. The image of that step is under Download PNG."
    if shown:
        return f"Stopped at step {shown[0]} of {shown[1]}, before its first picture."
    return "Stopped before the first step."


def notice(weights_label: str, trained: bool, offline: bool) -> str:
    """The line at the top of the page: which weights run (the host's limits are under "More settings")."""
    if offline:
        return f"⚠️ **{OFFLINE}**"
    weights = (
        "⚠️ Running on **untrained random weights** (`STYLECORE_WEIGHTS=random`): results are not art."
        if not trained
        else f"Weights: {weights_label}."
    )
    return weights


def offline_details(weights_error: str) -> str:
    """The technical details behind :data:`OFFLINE`, for the collapsed section under it."""
    return (
        f"{weights_error}\n\nWhoever runs this server can put the VGG19 file where the message says, or point "
        "`STYLECORE_WEIGHTS` at it, and restart the app (docs/weights.md)."
    )


def limits(hw: Hardware) -> str:
    where = {"zerogpu": "a shared ZeroGPU", "gpu": "a GPU", "cpu": "a CPU, so pictures are small"}[hw.kind]
    text = f"Runs on {where}: up to {hw.max_side} px, {hw.per_client} runs per visitor at a time"
    if hw.kind == "zerogpu":
        return text + (
            f"; each run holds the GPU for at most {hosting.MAX_LEASE_S} s and stops with its picture before that."
            " ZeroGPU gives visitors a few GPU minutes a day (more when signed in, most with PRO)."
        )
    return text + f"; a run stops with its picture after {hw.time_budget_s:g} s."


def video_text() -> str:
    """The page stays single-image; videos and folders are the command line's (README, *Video*)."""
    url = hosting.readme_url("video")
    where = f"[the README's *Video* section]({url})" if url else "the README's *Video* section"
    return (
        "Videos and folders of photos run on your own machine: `stylecore video clip.mp4 style.jpg -o out.mp4` "
        f"(temporally consistent, with the sound) and `stylecore batch photos/ style.jpg -o out/`; see {where}."
    )


#: The snippet "Use it from code" shows; ``{url}`` is the page's own address (:func:`snippet`).
CLIENT_SNIPPET = """from gradio_client import Client, handle_file

client = Client("{url}")
job = client.submit(
    content=handle_file("photo.jpg"),  # files on your computer
    style=handle_file("painting.jpg"),
    iterations=20,
    api_name="/stylize",
)
for before_after, plot, status, download in job:  # previews while it runs
    print(status)
print("saved:", job.result()[3])"""


def snippet(url: str) -> str:
    """The client snippet for the app at ``url``."""
    return CLIENT_SNIPPET.replace("{url}", url)


def code_text(url: str) -> str:
    """The "Use it from code" section for the app at ``url``: the client snippet and the MCP address."""
    return (
        "From Python (`pip install gradio_client`), with files on your computer:\n\n"
        f"```python\n{snippet(url)}\n```\n\n"
        f"As an MCP tool (Claude Desktop, Cursor, …), add the server **`{url}gradio_api/mcp/`**; "
        "its tools are `stylize` and `extract`."
    )
