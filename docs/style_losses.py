"""Make docs/style_losses.png: what each style statistic keeps, and two styles in two regions.

Top: the pixels are the only feature layer (an identity extractor), so a style statistic is a colour
statistic; each loss optimises noise towards a two-tone style for 300 steps. Bottom: two styles on the
photo with a left/right mask, VGG19 with untrained random weights (labelled). Run from the repository:
``.venv/bin/python docs/style_losses.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stylecore import PRESETS, StyleConfig, load_image, stylize, tensor_to_pil, vgg19_extractor  # noqa: E402
from stylecore.objective.terms import default_terms  # noqa: E402
from stylecore.optim.engine import PixelOptimizer, WholeImage, set_targets  # noqa: E402

PIXELS = ("conv1_1",)


def identity(image: torch.Tensor, layers: object = None) -> dict[str, torch.Tensor]:
    return {PIXELS[0]: image}


def two_tone(seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    modes = (torch.rand(1, 3, 48, 48, generator=generator) > 0.5).float()
    return (0.1 + 0.8 * modes + 0.03 * torch.randn(1, 3, 48, 48, generator=generator)).clamp(0, 1)


def optimise(style_loss: str, style: torch.Tensor) -> torch.Tensor:
    config = StyleConfig(size=32, device="cpu", style_loss=style_loss, lr=0.02, style_layers=PIXELS)  # type: ignore[arg-type]
    noise = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(1))
    terms = set_targets([t for t in default_terms(config) if t.name == "style"], identity, noise, [style], config)
    optimizer = PixelOptimizer(noise, WholeImage(identity, terms), config)  # type: ignore[arg-type]
    for _ in range(300):
        optimizer.step()
    return optimizer.image().detach()


def regions_result() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    config = PRESETS["original"].with_overrides(size=128, iterations=80, save_every=0, device="cpu", weights="random")
    content = load_image(ROOT / "examples/chelsea.jpg")
    strokes, hubble = load_image(ROOT / "examples/strokes.png"), load_image(ROOT / "examples/hubble.jpg")
    mask = torch.zeros(1, 1, 300, 451)
    mask[..., :225] = 1  # the left half gets the strokes, the rest the Hubble field
    result = stylize(content, [strokes, hubble], config, extractor=vgg19_extractor(weights="random"),
                     regions=[mask, None])  # fmt: skip
    return content, strokes, hubble, mask, result.image


def main() -> Path:
    style = two_tone()
    results = {name: optimise(name, style) for name in ("gram", "meancov", "sliced")}
    figure, axes = plt.subplots(3, 5, figsize=(15, 9), gridspec_kw={"height_ratios": [1, 0.8, 1]})
    for column, (title, image) in enumerate([("two-tone style", style), *results.items()]):
        axes[0, column].imshow(tensor_to_pil(image))
        axes[0, column].set_title(title if column == 0 else f"from noise, {title}")
        for channel, colour in enumerate(("red", "green", "blue")):
            axes[1, column].hist(image[0, channel].flatten().numpy(), bins=32, range=(0, 1), color=colour, alpha=0.5)
        axes[1, column].set_title("colour histogram")
    axes[0, 4].axis("off")
    axes[1, 4].axis("off")
    content, strokes, hubble, mask, result = regions_result()
    panels = [("photo", content), ("style 1: strokes", strokes), ("style 2: Hubble", hubble),
              ("region of style 1", mask.expand(1, 3, -1, -1)), ("result (random VGG weights)", result)]  # fmt: skip
    for column, (title, image) in enumerate(panels):
        axes[2, column].imshow(tensor_to_pil(image))
        axes[2, column].set_title(title)
    for axis in axes[0].tolist() + axes[2].tolist():
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("Style statistics on colours (identity extractor), and two styles in two regions "
                    "(UNTRAINED random VGG19 weights: not real style transfer)")  # fmt: skip
    figure.tight_layout()
    out = ROOT / "docs/style_losses.png"
    figure.savefig(out, dpi=80)
    return out


if __name__ == "__main__":
    print(f"wrote {main()}")
