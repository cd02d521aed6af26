"""The page's components: each setting's control comes from its row in :mod:`demo.settings`.

No callbacks here: ``demo/app.py`` wires events to these components.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeVar

import gradio as gr

from stylecore import TERMS

from . import words
from .controls import Choice
from .settings import Setting
from .uploads import EXAMPLES, checked_image, painted_region

TERM_COLORS = {**{name: kind.color for name, kind in TERMS.items()}, "total": "#111827"}  # each term's own
#: Spelled out under the plot: Gradio 6.31 clips the legend row of a plot in a column.
PLOT_LEGEND = " · ".join(
    f'<span style="color:{c}">━</span> {TERMS[t].legend if t in TERMS else t}' for t, c in TERM_COLORS.items()
)
C = TypeVar("C", gr.Slider, gr.Number, gr.Radio, gr.Dropdown)
Img = TypeVar("Img", gr.Image, gr.ImageEditor)
#: The bundled examples: (photo, style, what a screen reader says for each thumbnail).
EXAMPLE_ROWS = (
    ("chelsea.jpg", "strokes.png", "Chelsea the cat, photo", "Bold coloured brush strokes"),
    ("hubble.jpg", "chelsea.jpg", "Hubble photo of a galaxy cluster", "Chelsea the cat, as the style"),
)
#: What each upload box's buttons are called by a screen reader ("Upload the photo", "Paste the photo ...").
BOX_WORDS = {"content-photo": "the photo", "style-image": "the style image", "style2-image": "a second style image",
             "region-mask": "a region mask"}  # fmt: skip
#: WCAG AA (4.5:1) on white for every text the app colours; Gradio's default orange
#: Run (2.8:1), red Stop (3.8:1) and grey hints (1.9:1) did not reach it. Sliders take the
#: buttons' blue. On a phone the two image boxes stay side by side and short, so Run and
#: the status line are on the first screen.
CSS = """
#run { background: #1e40af !important; border-color: #1e40af !important; color: #ffffff !important; }
#run:disabled { background: #6b7280 !important; border-color: #6b7280 !important; }
#stop { background: #b91c1c !important; border-color: #b91c1c !important; color: #ffffff !important; }
.gradio-container { --body-text-color-subdued: #4b5563; --block-info-text-color: #4b5563;
                    --block-title-text-color: #1f2937; --color-accent: #1e40af; --slider-color: #1e40af;
                    --color-accent-soft: #dbeafe; --checkbox-background-color-selected: #1e40af;
                    --checkbox-border-color-selected: #1e40af; --checkbox-border-color-focus: #1e40af; }
input[type=range] { accent-color: #1e40af; }
input[type=range]:focus-visible, button:focus-visible, [role=button]:focus-visible, input:focus-visible {
  outline: 3px solid #1e40af !important; outline-offset: 2px; }
.problem, .problem * { color: #991b1b; }
#buttons { flex-wrap: nowrap; align-items: center; }
#buttons button { flex: 0 0 auto; max-height: 48px; }
#images { flex-wrap: nowrap; }
#download .empty, #result .empty { min-height: 0 !important; height: 64px !important; }
#result .empty { height: 240px !important; }
#examples img { width: 56px !important; height: 56px !important; }
#examples tr.tr-body td > * { width: 60px !important; height: 60px !important; min-height: 0 !important; }
#examples td, #examples th { padding: 4px 8px !important; }
#heading p { margin: 0; }
#notice { font-size: 0.9rem; }
#images > * { min-width: 0 !important; }
#heading h1 { margin: 0; font-size: 1.5rem; }
@media (max-width: 640px) {
  #heading h1 { font-size: 1.15rem; }
  #content-photo, #style-image { height: 130px !important; }
}
"""
#: Accessibility that Gradio's components do not expose as arguments: live regions for
#: the status and the messages, a distinct name for each button of each upload box, a
#: download link named by what it downloads, alt text for the example thumbnails, and a
#: role for Gradio's empty-value placeholder (axe: aria-prohibited-attr). Re-applied as
#: Gradio re-renders; the page's address goes into the code snippet.
JS = """
() => {
  const boxes = BOXES;
  const alts = ALTS;
  const set = (el, attr, value) => { if (el && el.getAttribute(attr) !== value) el.setAttribute(attr, value); };
  const fix = () => {
    document.querySelectorAll("#status, .message").forEach((el) => {
      set(el, "aria-live", "polite"); set(el, "role", "status");
    });
    for (const [id, what] of Object.entries(boxes)) {
      document.querySelectorAll(`#${id} input[type=file]`).forEach((el) => set(el, "aria-label", `Upload ${what}`));
      document.querySelectorAll(`#${id} button`).forEach((el) => {
        const said = (el.dataset.said ??= (el.getAttribute("aria-label") || el.textContent || "").trim().toLowerCase());
        if (said.includes("clipboard") || said.includes("paste"))
          set(el, "aria-label", `Paste ${what} from the clipboard`);
        else if (said.includes("clear") || said.includes("remove")) set(el, "aria-label", `Remove ${what}`);
        else if (el.closest(".source-selection")) set(el, "aria-label", `Choose ${what} from your files`);
        else if (said.includes("upload") || el.classList.contains("upload-container"))
          set(el, "aria-label", `Upload ${what}`);
      });
    }
    document.querySelectorAll("#download a[href]").forEach((a) =>
      set(a, "aria-label", `Download the picture: ${(a.getAttribute("download") || a.textContent).trim()}`));
    document.querySelectorAll('[aria-label="Empty value"]:not([role])').forEach((el) => set(el, "role", "img"));
    document.querySelectorAll(".examples-table tr.tr-body, #examples tr.tr-body").forEach((row, i) =>
      row.querySelectorAll("img").forEach((img, j) => { if (alts[i]) set(img, "alt", alts[i][j]); }));
  };
  fix();
  new MutationObserver(fix).observe(document.body, { subtree: true, childList: true });
}
""".replace("BOXES", json.dumps(BOX_WORDS)).replace("ALTS", json.dumps([[row[2], row[3]] for row in EXAMPLE_ROWS]))


def raw(component: C) -> C:
    """Hand the value over as sent: the settings table checks it (Gradio's own check crashes on null)."""
    component.preprocess = lambda value: value  # type: ignore[method-assign,assignment]
    return component


def control(setting: Setting, value: Any) -> Any:
    """The component for one setting, from its row in the table (elem_id: its API name)."""
    c, name = setting.control, setting.name
    info = c.hint or None
    if isinstance(c, Choice):
        if setting.widget == "dropdown":
            return raw(gr.Dropdown(c.shown(), value=value, label=c.label, info=info, elem_id=name))
        return raw(gr.Radio(c.shown(), value=value, label=c.label, info=info, elem_id=name))
    if setting.widget == "number":
        return raw(gr.Number(value, precision=0 if c.integer else None, label=c.label, info=info, minimum=c.low,
                             elem_id=name))  # fmt: skip
    return raw(gr.Slider(c.low, c.high, value=value, step=c.step, label=c.label, info=info, elem_id=name,
                         min_width=150))  # fmt: skip


def page_top(notice: str, offline_details: str | None) -> dict[str, Any]:
    """The heading and the one-line notice; without weights, the details folded under it."""
    gr.Markdown(words.HEADING, elem_id="heading")
    gr.Markdown(notice, elem_id="notice")
    if offline_details is not None:
        with gr.Accordion("Details for whoever runs this server", open=False, elem_id="offline-details"):
            gr.Markdown(offline_details)
    return {}


def code_section(video_text: str) -> dict[str, Any]:
    """ "Use it from code": the client snippet (filled in with the page's address on load) and videos."""
    with gr.Accordion("Use it from code", open=False, elem_id="use-from-code"):
        code = gr.Markdown(words.code_text("http://127.0.0.1:7860/"), elem_id="code")
        gr.Markdown(video_text, elem_id="video-note")
    return {"code": code}


def message(elem_id: str, value: str = "") -> gr.Markdown:
    """A sentence beside what it is about (an upload box, Run); read out when it changes."""
    return gr.Markdown(value, elem_id=elem_id, elem_classes=["message", "problem"])


def no_url_docs(component: Img) -> Img:
    """The API documentation of an image input without Gradio's "or publicly available URL": URLs are refused."""
    info = component.api_info_as_input()
    said = "A file uploaded from your computer (gradio_client: handle_file('photo.jpg')); URLs are refused."
    url = dict(info.get("properties", {}).get("url", {}), description="Set by the upload; URLs are refused")
    documented = {**info, "additional_description": said,
                  "properties": {**info.get("properties", {}), "url": url}}  # fmt: skip
    component.api_info_as_input = lambda: documented  # type: ignore[method-assign]
    return component


def image_box(label: str, elem_id: str, height: int, **kwargs: Any) -> gr.Image:
    return no_url_docs(checked_image(label=label, height=height, elem_id=elem_id, min_width=120, **kwargs))


#: The groups the page places by name; any other is under "Advanced".
PLACED = ("main", "more", "second style", "advanced")


@dataclass(frozen=True)
class Layout:
    """Builds the controls from the settings table and their starting values (``defaults``)."""

    settings: tuple[Setting, ...]
    defaults: dict[str, Any]

    def group(self, group: str) -> dict[str, Any]:
        return {s.name: control(s, self.defaults[s.name]) for s in self.settings if s.group == group}

    def inputs(self, offline: bool, run_reason: str) -> dict[str, Any]:
        """The left side: photo and style (each with its message), examples, the main settings, Run and Stop."""
        with gr.Row(elem_id="images"):
            with gr.Column(min_width=120):
                content = image_box("Photo", "content-photo", 220, sources=["upload", "clipboard"])
                content_message = message("content-message")
            with gr.Column(min_width=120):
                style = image_box("Style image", "style-image", 220, sources=["upload", "clipboard"])
                style_message = message("style-message")
        main = self.rows("main", per_row=2)
        with gr.Row(elem_id="buttons"):
            run = gr.Button("Run", variant="primary", elem_id="run", scale=0, min_width=120, interactive=not offline)
            stop = gr.Button("Stop", variant="stop", elem_id="stop", scale=0, min_width=120, interactive=not offline)
        run_message = message("run-message", run_reason)
        return {"content": content, "style": style, "run": run, "stop": stop, "run-message": run_message,
                "content-message": content_message, "style-message": style_message, **main}  # fmt: skip

    def rows(self, group: str, per_row: int) -> dict[str, Any]:
        """A group's controls, ``per_row`` to a row (a group the page does not know goes under "Advanced")."""
        names = [s for s in self.settings if s.group == group or (group == "advanced" and s.group not in PLACED)]
        made: dict[str, Any] = {}
        for start in range(0, len(names), per_row):
            with gr.Row():
                made |= {s.name: control(s, self.defaults[s.name]) for s in names[start : start + per_row]}
        return made

    def folded(self, limits: str) -> dict[str, Any]:
        """Under the two sides: "More settings" (with the host's limits and the second style) and "Advanced"."""
        with gr.Accordion("More settings", open=False, elem_id="more-settings"):
            gr.Markdown(limits, elem_id="limits")
            more = self.rows("more", per_row=3)
            memory = gr.Markdown(elem_id="memory")  # the estimate for the size
            with gr.Accordion("A second style: blend it, or paint where it goes", open=False), gr.Row():
                with gr.Column():
                    style2 = image_box("Second style image (optional)", "style2-image", 200)
                    style2_message = message("style2-message")
                    second = self.group("second style")
                with gr.Column():
                    painted = no_url_docs(painted_region(label="Paint where the second style goes (over the photo)",
                                                         height=320, elem_id="painted"))  # fmt: skip
                    region = image_box("…or upload a mask (white: second style)", "region-mask", 160)
                    region_message = message("region-message")
        with gr.Accordion("Advanced: how the picture is computed", open=False, elem_id="advanced"):
            advanced = self.rows("advanced", per_row=3)
        return {"style2": style2, "region": region, "painted": painted, "memory": memory,
                "style2-message": style2_message, "region-message": region_message,
                **second, **more, **advanced}  # fmt: skip


def outputs(content: gr.Image, style: gr.Image) -> dict[str, Any]:
    """The right side: the status line, the before/after slider, the download, and the examples under them
    (on a phone the result then comes right under Run, and the examples after it)."""
    status = gr.Markdown(words.READY, label="Status", elem_id="status", elem_classes=["message"])
    result = gr.ImageSlider(label="Before / after", type="pil", format="png", interactive=False,
                            elem_id="result", max_height=420, buttons=["fullscreen"])  # fmt: skip
    download = gr.File(label="Download PNG", interactive=False, elem_id="download", height=60)
    gr.Examples([[str(EXAMPLES / row[0]), str(EXAMPLES / row[1])] for row in EXAMPLE_ROWS],
                inputs=[content, style], elem_id="examples", label="Or try an example: click one, then Run",
                )  # fmt: skip
    return {"status": status, "result": result, "download": download}


def plot() -> Any:
    """The loss plot, folded: how the picture converged, for the curious."""
    with gr.Accordion("How the picture converged (loss plot)", open=False, elem_id="loss"):
        chart = gr.LinePlot(x="iteration", y="log10 loss", color="term", color_map=TERM_COLORS, color_title="",
                            x_title="step", y_title="loss (log10)", x_axis_format="d",
                            label="Weighted loss terms", height=280, elem_id="loss-plot")  # fmt: skip
        gr.Markdown(PLOT_LEGEND, elem_id="loss-legend")
    return chart


def extract_section() -> dict[str, Any]:
    """The extractor API, folded at the bottom for developers: an image in; Grams, summary and provider out."""
    with gr.Accordion("For developers: the feature extractor API", open=False, elem_id="extractor"):
        gr.Markdown("Gram matrices of `conv1_1 … conv5_1`, computed with the exported ONNX model.")
        with gr.Row():
            probe = no_url_docs(checked_image(label="Image"))
            with gr.Column():
                button = gr.Button("Extract", variant="secondary")
                provider = gr.Markdown(label="Provider")
                grams_file = gr.File(label="Gram matrices (.npz)")
                summary = gr.JSON(label="Summary")
    return {"probe": probe, "button": button, "outputs": [grams_file, summary, provider]}
