"""A faithful small re-implementation of how the original design's lineage runs.

What it keeps from that code: VGG19 ``features[:29]`` sliced from a full
torchvision model (classifier allocated, then dropped), tapped features
appended to a list as the loop walks the layers, content, style and generated
features all recomputed on every step, the weights left trainable (so backward
also computes weight gradients), and Adam on the pixels.

One deliberate change: its ReLUs are not in-place. In the original, in-place
ReLU silently turns the conv taps into post-ReLU values; here both loops must
optimise the same objective so that time-to-quality compares like with like.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.models import vgg19

from stylecore import StyleConfig, VGGExtractor
from stylecore.model.extractor import IMAGENET_MEAN, IMAGENET_STD
from stylecore.objective.functional import content_loss, gram_matrix, style_loss, tv_loss

CHOSEN_FEATURES = ("0", "5", "10", "19", "28")


class SeedVGG(nn.Module):
    def __init__(self, weights_from: VGGExtractor) -> None:
        super().__init__()
        self.model = vgg19(weights=None).features[:29]
        self.model.load_state_dict(weights_from.features.state_dict(), strict=False)
        for module in self.model:
            if isinstance(module, nn.ReLU):
                module.inplace = False
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: Tensor) -> list[Tensor]:
        x = (x - self.mean) / self.std
        features = []
        for layer_num, layer in enumerate(self.model):
            x = layer(x)
            if str(layer_num) in CHOSEN_FEATURES:
                features.append(x)
        return features


class SeedLoop:
    """The reference loop; :meth:`step` recomputes all three feature sets."""

    def __init__(self, content: Tensor, style: Tensor, extractor: VGGExtractor, config: StyleConfig) -> None:
        self.model = SeedVGG(extractor)  # parameters still require grad, as in the original
        self.content, self.style, self.config = content, style, config
        self.generated = content.clone().requires_grad_(True)
        self.optimizer = torch.optim.Adam([self.generated], lr=config.step_size)

    def step(self) -> float:
        generated_features = self.model(self.generated)
        original_features = self.model(self.content)
        style_features = self.model(self.style)
        c = self.config
        content = torch.stack(
            [content_loss(g, o) for g, o in zip(generated_features, original_features, strict=True)]
        ).mean()
        grams = {str(i): gram_matrix(g) for i, g in enumerate(generated_features)}
        targets = {str(i): gram_matrix(s) for i, s in enumerate(style_features)}
        total = (
            c.content_weight * content
            + c.style_weight * style_loss(grams, targets)
            + c.tv_weight * tv_loss(self.generated)
        )
        self.optimizer.zero_grad()
        total.backward()
        self.optimizer.step()
        with torch.no_grad():
            self.generated.clamp_(0, 1)
        return total.item()
