"""Generate examples/strokes.png: a swirling brush-stroke 'painting' (CC0).

Short curved strokes follow a vortex flow field, in a warm/cool palette, so the
image has the kind of texture style transfer picks up. Deterministic.
Run: python examples/make_strokes.py
"""

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 384
PALETTE = [(18, 42, 94), (35, 86, 160), (92, 148, 206), (238, 196, 66), (246, 226, 140), (20, 24, 40), (200, 90, 40)]


def flow_angle(x: float, y: float) -> float:
    """Direction of the stroke field: two vortices and a gentle wave."""
    angle = 0.0
    for cx, cy, spin in ((0.32, 0.38, 1), (0.7, 0.62, -1)):
        dx, dy = x / SIZE - cx, y / SIZE - cy
        angle += spin * math.exp(-(dx * dx + dy * dy) * 9) * (math.atan2(dy, dx) + math.pi / 2)
    return angle + 0.6 * math.sin(y / SIZE * 6)


def main() -> None:
    rng = np.random.default_rng(1889)
    image = Image.new("RGB", (SIZE, SIZE), PALETTE[0])
    draw = ImageDraw.Draw(image)
    for _ in range(9000):
        x, y = rng.uniform(0, SIZE, 2)
        color = PALETTE[rng.integers(len(PALETTE))]
        shade = tuple(int(np.clip(c + rng.normal(0, 14), 0, 255)) for c in color)
        points = [(x, y)]
        for _ in range(int(rng.integers(4, 9))):
            a = flow_angle(x, y)
            x, y = x + 3 * math.cos(a), y + 3 * math.sin(a)
            points.append((x, y))
        draw.line(points, fill=shade, width=int(rng.integers(2, 5)), joint="curve")
    out = Path(__file__).with_name("strokes.png")
    image.filter(ImageFilter.SMOOTH).save(out, optimize=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
