"""Draw docs/color_modes.png: the three --preserve-colors modes side by side.

Run from the repository root: ``.venv/bin/python docs/color_modes.py [WEIGHTS]``
(default ``random``; the figure is labelled with the weights it used).
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw

from stylecore import PRESETS, load_image, stylize, tensor_to_pil, vgg19_extractor

ROOT = Path(__file__).resolve().parent.parent
SIZE, STEPS = 160, 150


def main(weights: str = "random") -> Path:
    config = PRESETS["original"].with_overrides(
        size=SIZE, iterations=STEPS, save_every=0, device="cpu", weights=weights
    )
    extractor = vgg19_extractor(layers=config.layers, weights=weights)
    content = load_image(ROOT / "examples/chelsea.jpg", SIZE)
    style = load_image(ROOT / "examples/strokes.png", SIZE)
    panels = [("content", tensor_to_pil(content)), ("style", tensor_to_pil(style))]
    for mode in ("none", "luminance", "match"):
        result = stylize(content, style, config.with_overrides(preserve_colors=mode), extractor=extractor)
        panels.append((f"--preserve-colors {mode}", tensor_to_pil(result.image)))
    figure = Image.new("RGB", (SIZE * len(panels), SIZE + 40), "white")
    draw = ImageDraw.Draw(figure)
    for i, (label, image) in enumerate(panels):
        figure.paste(image, (i * SIZE, 0))
        draw.text((i * SIZE + 4, SIZE + 4), label, fill="black")
    draw.text((4, SIZE + 22), f"{STEPS} Adam steps, original preset, weights: {extractor.weights.label}", fill="black")
    out = ROOT / "docs/color_modes.png"
    figure.save(out)
    return out


if __name__ == "__main__":
    print(f"wrote {main(*sys.argv[1:2])}")
