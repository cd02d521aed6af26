"""The page's components: what each control looks like, from the one table in :mod:`demo.controls`.

No callbacks here: ``demo/app.py`` wires events to these components.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import gradio as gr

from . import controls
from .uploads import EXAMPLES, checked_image, painted_region

TERM_COLORS = {"content": "#2563eb", "style": "#db2777", "tv": "#16a34a", "total": "#111827"}
#: Spelled out under the plot: Gradio 6.31 clips the legend row of a plot in a column.
PLOT_LEGEND = " · ".join(
    f'<span style="color:{c}">━</span> {"total variation" if t == "tv" else t}' for t, c in TERM_COLORS.items()
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
    """Hand the value over as sent: :mod:`demo.controls` checks it (Gradio's own check crashes on null)."""
    component.preprocess = lambda value: value  # type: ignore[method-assign,assignment]
    return component


@dataclass(frozen=True)
class Layout:
    """Builds the controls from their ranges (``numbers``) and starting values (``defaults``)."""

    numbers: dict[str, controls.Number]
    defaults: dict[str, Any]

    def slider(self, name: str, **kwargs: Any) -> gr.Slider:
        n = self.numbers[name]
        kwargs.setdefault("info", n.hint or None)
        return raw(gr.Slider(n.low, n.high, value=self.defaults[name], step=n.step, label=n.label, **kwargs))

    def radio(self, name: str, label: str) -> gr.Radio:
        return raw(gr.Radio(list(controls.CHOICES[name]), value=self.defaults[name], label=label))

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
                    blend = self.slider("blend", info="without a region")
                    painted = painted_region(label="Paint where the second style goes (over the photo)", height=320)
                    region = checked_image(label="…or upload a mask (white: second style)", height=160,
                                           elem_id="region-mask")  # fmt: skip
        gr.Examples([[str(EXAMPLES / row[0]), str(EXAMPLES / row[1])] for row in EXAMPLE_ROWS],
                    inputs=[content, style], elem_id="examples")  # fmt: skip
        return {"content": content, "style": style, "style2": style2, "blend": blend, "region": region,
                "painted": painted}  # fmt: skip

    def settings(self) -> dict[str, Any]:
        """The run settings, keyed as stylize()'s parameters (plus the memory note)."""
        with gr.Accordion("Settings", open=True):
            with gr.Row():
                preset = raw(gr.Dropdown(list(controls.CHOICES["preset"]), value=self.defaults["preset"],
                                         label="Preset", info="original: the design; gatys: the paper"))  # fmt: skip
                iterations = self.slider("iterations", elem_id="iterations")
                with gr.Column():
                    size = self.slider("size", elem_id="size")
                    memory = gr.Markdown(elem_id="memory")
                preview_every = self.slider("preview_every", elem_id="preview_every")
            with gr.Row():
                log_cw, log_sw, log_tv = self.slider("log_cw"), self.slider("log_sw"), self.slider("log_tv")
                style_scale = self.slider("style_scale")
            with gr.Row():
                preserve_colors = self.radio("preserve_colors", "Keep the photo's colours")
                scales = self.slider("scales", info="0: automatic")
                optimizer, init = self.radio("optimizer", "Optimiser"), self.radio("init", "Start from")
                style_loss = self.radio("style_loss", "Style statistics")
                seed = raw(gr.Number(self.defaults["seed"], precision=0, label=self.numbers["seed"].label, minimum=0))
        return {
            "preset": preset, "iterations": iterations, "size": size, "memory": memory,
            "preview_every": preview_every, "log_cw": log_cw, "log_sw": log_sw, "log_tv": log_tv,
            "style_scale": style_scale, "preserve_colors": preserve_colors, "scales": scales, "optimizer": optimizer,
            "init": init, "seed": seed, "style_loss": style_loss,
        }  # fmt: skip


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
