"""The page's components: each setting's control comes from its row in :mod:`demo.settings`.

No callbacks here: ``demo/app.py`` wires events to these components.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import gradio as gr

from stylecore import TERMS

from .controls import Choice
from .settings import Setting
from .uploads import EXAMPLES, checked_image, painted_region

TERM_COLORS = {**{name: kind.color for name, kind in TERMS.items()}, "total": "#111827"}  # each term's own
#: Spelled out under the plot: Gradio 6.31 clips the legend row of a plot in a column.
PLOT_LEGEND = " · ".join(
    f'<span style="color:{c}">━</span> {TERMS[t].legend if t in TERMS else t}' for t, c in TERM_COLORS.items()
)
C = TypeVar("C", gr.Slider, gr.Number, gr.Radio, gr.Dropdown)
#: The bundled examples: (photo, style, what a screen reader says for each thumbnail).
EXAMPLE_ROWS = (
    ("chelsea.jpg", "strokes.png", "Chelsea the cat, photo", "Bold coloured brush strokes"),
    ("hubble.jpg", "chelsea.jpg", "Hubble photo of a galaxy cluster", "Chelsea the cat, as the style"),
)
#: WCAG AA (4.5:1) on white for every text the app colours; Gradio's default orange
#: Run (2.8:1), red Stop (3.8:1) and grey hints (1.9:1) did not reach it.
CSS = """
#run { background: #1e40af !important; border-color: #1e40af !important; color: #ffffff !important; }
#stop { background: #b91c1c !important; border-color: #b91c1c !important; color: #ffffff !important; }
.gradio-container { --body-text-color-subdued: #4b5563; --block-info-text-color: #4b5563;
                    --block-title-text-color: #1f2937; --color-accent: #1e40af; }
input[type=range]:focus-visible, button:focus-visible, [role=button]:focus-visible, input:focus-visible {
  outline: 3px solid #1e40af !important; outline-offset: 2px; }
#run-message, #run-message * { color: #991b1b; }
"""
#: Accessibility that Gradio's components do not expose as arguments: live regions for
#: the status and the message next to Run, a distinct name for each upload box, and alt
#: text for the example thumbnails. Re-applied as Gradio re-renders.
JS = """
() => {
  const names = {"content-photo": "Upload the content photo", "style-image": "Upload the style image",
                 "style2-image": "Upload a second style image", "region-mask": "Upload a region mask"};
  const alts = %s;
  const set = (el, attr, value) => { if (el && el.getAttribute(attr) !== value) el.setAttribute(attr, value); };
  const fix = () => {
    for (const id of ["status", "run-message"]) {
      const el = document.getElementById(id);
      set(el, "aria-live", "polite"); set(el, "role", "status");
    }
    for (const [id, name] of Object.entries(names)) {
      document.querySelectorAll(`#${id} input[type=file], #${id} button[aria-label], #${id} .upload-container button`)
        .forEach((el) => set(el, "aria-label", name));
    }
    document.querySelectorAll("tr.tr-body").forEach((row, i) =>
      row.querySelectorAll("img").forEach((img, j) => { if (alts[i]) set(img, "alt", alts[i][j]); }));
  };
  fix();
  new MutationObserver(fix).observe(document.body, { subtree: true, childList: true });
}
""" % [[row[2], row[3]] for row in EXAMPLE_ROWS]


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
            return raw(gr.Dropdown(list(c.options), value=value, label=c.label, info=info, elem_id=name))
        return raw(gr.Radio(list(c.options), value=value, label=c.label, info=info, elem_id=name))
    if setting.widget == "number":
        return raw(gr.Number(value, precision=0 if c.integer else None, label=c.label, info=info, minimum=c.low,
                             elem_id=name))  # fmt: skip
    return raw(gr.Slider(c.low, c.high, value=value, step=c.step, label=c.label, info=info, elem_id=name))


@dataclass(frozen=True)
class Layout:
    """Builds the controls from the settings table and their starting values (``defaults``)."""

    settings: tuple[Setting, ...]
    defaults: dict[str, Any]

    def group(self, group: str) -> dict[str, Any]:
        return {s.name: control(s, self.defaults[s.name]) for s in self.settings if s.group == group}

    def images(self) -> dict[str, Any]:
        """The photo, the style, and the accordion for a second style and its region."""
        with gr.Row():
            content = checked_image(label="Content photo", sources=["upload", "clipboard"], height=240,
                                    elem_id="content-photo")  # fmt: skip
            with gr.Column():
                style = checked_image(label="Style image", sources=["upload", "clipboard"], height=240,
                                      elem_id="style-image")  # fmt: skip
                with gr.Accordion("A second style: blend it, or paint where it goes", open=False):
                    style2 = checked_image(label="Second style image (optional)", height=200, elem_id="style2-image")
                    second = self.group("second style")
                    painted = painted_region(label="Paint where the second style goes (over the photo)", height=320)
                    region = checked_image(label="…or upload a mask (white: second style)", height=160,
                                           elem_id="region-mask")  # fmt: skip
        gr.Examples([[str(EXAMPLES / row[0]), str(EXAMPLES / row[1])] for row in EXAMPLE_ROWS],
                    inputs=[content, style], elem_id="examples")  # fmt: skip
        return {"content": content, "style": style, "style2": style2, "region": region, "painted": painted, **second}

    def settings_panel(self) -> dict[str, Any]:
        """The run settings, keyed by their API names, plus the memory note under the size."""
        with gr.Accordion("Settings", open=True):
            with gr.Row():
                run = self.group("run")
            memory = gr.Markdown(elem_id="memory")  # the estimate for the size above
            with gr.Row():
                weights = self.group("weights")
            with gr.Row():
                method = self.group("method")
        return {**run, **weights, **method, "memory": memory}


def outputs() -> dict[str, Any]:
    """Before/after slider, loss plot with its legend, and the download (the status is next to Run)."""
    with gr.Row():
        result = gr.ImageSlider(label="Before / after", type="pil", format="png", interactive=False,
                                elem_id="result", max_height=640)  # fmt: skip
        with gr.Column():
            plot = gr.LinePlot(x="iteration", y="log10 loss", color="term", color_map=TERM_COLORS, color_title="",
                               x_title="step", y_title="loss (log10)", x_axis_format="d",
                               label="Weighted loss terms", height=280, elem_id="loss-plot")  # fmt: skip
            gr.Markdown(PLOT_LEGEND, elem_id="loss-legend")
            download = gr.File(label="Download PNG", interactive=False, elem_id="download")
    return {"result": result, "plot": plot, "download": download}


def extract_tab() -> dict[str, Any]:
    """The Extractor API tab: an image in; Grams, summary and provider out."""
    with gr.Tab("Extractor API"):
        gr.Markdown("Gram matrices of `conv1_1 … conv5_1`, computed with the exported ONNX model.")
        with gr.Row():
            probe = checked_image(label="Image")
            with gr.Column():
                button = gr.Button("Extract", variant="primary")
                provider = gr.Markdown(label="Provider")
                grams_file = gr.File(label="Gram matrices (.npz)")
                summary = gr.JSON(label="Summary")
    return {"probe": probe, "button": button, "outputs": [grams_file, summary, provider]}
