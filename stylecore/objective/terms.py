"""The built-in loss terms: each owns its layers, its fixed target, its weighted value and its tiled form.

Each registers itself (:func:`~stylecore.objective.registry.register_term`): its config weight, its
plot colour and its control on the page. A new loss (temporal, say) is a new class, not an edit to
the loop; a new style statistic is a class in :mod:`stylecore.objective.style`. Each term's tiled
form sits next to its untiled call (``tile_value``, or ``tile_statistics`` and ``tile_loss``;
:mod:`stylecore.objective.tile_terms`), so the two are read, and kept equal, together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..config import StyleConfig
from ..errors import ConfigError
from .functional import content_loss, temporal_loss, tv_loss
from .regions import Mask, at_layer, region_shares
from .registry import TERMS, FeatureFn, LossTerm, WeightControl, check_term_weights, register_term
from .style import STATISTICS, Stat, StyleStatistic
from .tile_terms import TileContext, Window, crop

_EPS = 1e-8
#: A region of a style term at one layer size: its index, its mask there (None: the full mask), its factor.
Region = tuple[int, Tensor | None, Tensor | float]


@register_term(
    "content",
    color="#2563eb",
    control=WeightControl("How much of the photo", -2, 3, "content weight, as a power of ten.",
                          hint="right: the photo's shapes stay clearer", param="log_cw", featured=True),
)  # fmt: skip
@dataclass
class ContentTerm:
    """Feature reconstruction of the content image, averaged over ``layers``."""

    weight: float
    layers: tuple[str, ...]
    name: str = "content"
    targets: dict[str, Tensor] = field(default_factory=dict, repr=False)  # layer -> (1, C, H, W)
    # Tiled: tile index -> the content's features over the tile's own region; layer -> Σ t² over the image.
    tile_targets: Callable[[int], dict[str, Tensor]] | None = field(default=None, repr=False)
    norms: dict[str, Tensor] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(
        cls,
        config: StyleConfig,
        weight: float,
        regions: Sequence[Mask | None] | None,
        style_regions: Sequence[Mask | None],
    ) -> ContentTerm:
        return cls(weight, config.content_layers)

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        self.targets = {n: f.to(content.device) for n, f in extract(content, self.layers).items()}

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        losses = [content_loss(features[n], target) for n, target in self.targets.items()]
        return self.weight * torch.stack(losses).mean()

    def set_tile_targets(
        self, context: TileContext, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        """No whole-image features: each tile's own, from the tiler (cached or recomputed)."""
        self.tile_targets, self.norms = context.content_targets(self.layers)

    def tile_value(self, own: Mapping[str, Tensor], pixels: Tensor, window: Window, index: int) -> Tensor:
        assert self.tile_targets is not None, "set_tile_targets first"
        targets = self.tile_targets(index)
        errors = [(own[n] - targets[n]).pow(2).sum() / (self.norms[n] + _EPS) for n in self.layers]
        return self.weight * torch.stack(errors).mean()


@register_term(
    "style",
    color="#db2777",
    control=WeightControl("How much style", -2, 4, "style weight, as a power of ten.",
                          hint="right: more of the artwork's colour and strokes", param="log_sw",
                          featured=True),
)  # fmt: skip
@dataclass
class StyleTerm:
    """A style statistic matched at ``layers``: over the whole image, or style ``i`` in content region ``i``.

    Without ``masks`` the styles' statistics blend by share into one target (``statistic.mix``),
    matched over the whole image: one region, the full mask. With ``masks`` (Gatys et al. 2017,
    spatial control) region ``i``'s statistic weights positions by its share of them (so it does not
    depend on the region's size) and is compared with style ``i``'s own. Each region counts by its
    share of the image times its style's blend share times the style count, so an equal blend weighs
    every region 1: blend (0.7, 0.3) styles region 1 more strongly than region 2, and a zero share
    leaves that region to the content and tv terms alone. ``style_masks[i]`` picks where in style
    image ``i`` its statistic comes from (default: everywhere).
    """

    statistic: StyleStatistic
    layers: tuple[str, ...]
    weight: float
    masks: Sequence[Mask | None] | None = None  # content regions, one per style (None: a default style)
    style_masks: Sequence[Mask | None] = ()  # where in each style image to take statistics from
    seed: int = 0  # random statistics (sliced) redraw from this seed every step
    name: str = "style"
    targets: dict[str, dict[int, Stat]] = field(default_factory=dict, repr=False)  # layer -> region -> target
    factors: dict[int, float] = field(default_factory=dict, repr=False)  # region -> blend share x style count
    shares: Tensor | None = field(default=None, repr=False)  # (N, 1, H, W) region shares; None: no regions
    generator: torch.Generator = field(default_factory=torch.Generator, repr=False)
    # (h, w) -> the regions present at that layer size with their masks and factors: fixed for a
    # scale, so computed on the first step, not on every one (no host sync per region per step).
    _at_layer: dict[tuple[int, int], list[Region]] = field(default_factory=dict, repr=False)
    _tile_sizes: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)  # layer -> full map size

    @classmethod
    def from_config(
        cls,
        config: StyleConfig,
        weight: float,
        regions: Sequence[Mask | None] | None,
        style_regions: Sequence[Mask | None],
    ) -> StyleTerm:
        """The statistic ``config.style_loss`` names (:data:`~stylecore.objective.style.STATISTICS`), per region."""
        return cls(STATISTICS[config.style_loss], config.style_layers, weight, regions, style_regions, seed=config.seed)

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        def measure(index: int) -> dict[str, Stat]:
            where = self.style_mask(index)
            stats = {}
            for layer, feats in extract(styles[index], self.layers).items():
                feats = feats.to(content.device)
                mask = None if where is None else at_layer(where.to(feats), *feats.shape[-2:])
                stats[layer] = self.statistic.target(feats, mask)
            return stats

        self.set_targets_from(measure, content, shares)

    def style_mask(self, index: int) -> Mask | None:
        """Where in style image ``index`` its statistic comes from; None: everywhere."""
        return self.style_masks[index] if index < len(self.style_masks) else None

    @torch.no_grad()
    def set_targets_from(
        self, measure: Callable[[int], Mapping[str, Stat]], content: Tensor, shares: Sequence[float]
    ) -> None:
        """The targets from ``measure(i)``, style ``i``'s statistic per layer; a zero share is never measured."""
        kept = [i for i, share in enumerate(shares) if share]
        if self.masks is None:
            groups = {0: [(shares[i], i) for i in kept]}  # every style mixed, over the whole image
            self.factors, self.shares = {0: 1.0}, None
        else:
            groups = {i: [(1.0, i)] for i in kept}  # style i alone, in region i
            self.factors = {i: shares[i] * len(shares) for i in kept}
            self.shares = region_shares(self.masks, *content.shape[-2:]).to(content.device)
        measured = {i: measure(i) for i in kept}
        self.targets = {
            layer: {g: self.statistic.mix([(s, measured[i][layer]) for s, i in parts]) for g, parts in groups.items()}
            for layer in measured[kept[0]]
        }
        self._at_layer = {}
        self.generator.manual_seed(self.seed)

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        losses = []
        for layer, targets in self.targets.items():
            feats = features[layer]
            parts = [
                factor * self.statistic.distance(feats, mask, self.statistic.draw(targets[i], self.generator))
                for i, mask, factor in self.regions_at(*feats.shape[-2:])
            ]
            losses.append(torch.stack(parts).sum() if parts else feats.new_zeros(()))
        return self.weight * torch.stack(losses).mean()

    def regions_at(self, height: int, width: int) -> list[Region]:
        """``(region, its mask at a layer of this size or None for the full mask, its factor)``
        for the regions with a target that are not empty there."""
        if (height, width) not in self._at_layer:
            if self.shares is None:
                found: list[Region] = [(i, None, factor) for i, factor in self.factors.items()]
            else:
                shares = at_layer(self.shares, height, width)  # (N, 1, h, w)
                found = [
                    (i, shares[i : i + 1], factor * shares[i].mean())
                    for i, factor in self.factors.items()
                    if float(shares[i].max()) > 0
                ]
            self._at_layer[(height, width)] = found
        return self._at_layer[(height, width)]

    def set_tile_targets(
        self, context: TileContext, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        """The same targets as :meth:`set_targets`, from tiles of each style image when the statistic sums."""
        if self.masks is not None and not self.statistic.tiles_regions:
            raise ConfigError(
                f"tiling does not support {self.statistic.name} statistics with regions; use --tile 0 or gram/meancov"
            )
        if self.statistic.gathered:  # holds every position anyway: from the whole image, as untiled
            self.set_targets(context.extractor, content, styles, shares)
            return

        def measure(index: int) -> Mapping[str, Stat]:
            return context.statistics(styles[index], self.statistic, self.layers, self.style_mask(index))

        self.set_targets_from(measure, content, shares)

    def gathered_keys(self) -> frozenset[str]:
        keys = self.statistic.gathered
        return frozenset(f"{layer}:{i}:{k}" for layer in self.targets for i in self.factors for k in keys)

    def tile_statistics(self, own: Mapping[str, Tensor], windows: Mapping[str, Window]) -> dict[str, Tensor]:
        """Each region's partial statistics: its mask cropped with the tile at each layer."""
        stats: dict[str, Tensor] = {}
        for layer in self.targets:
            window = windows[layer]
            self._tile_sizes[layer] = window.size
            flat = own[layer][0].flatten(1)  # (C, n)
            for i, mask, _ in self.regions_at(*window.size):
                weights = None if mask is None else crop(mask, window.box).flatten()  # (n,)
                partial = self.statistic.partial(flat, weights)
                stats.update({f"{layer}:{i}:{key}": value for key, value in partial.items()})
        return stats

    def tile_loss(self, stats: Mapping[str, Tensor]) -> Tensor:
        """The untiled loss at the statistics combined over the tiles."""
        losses = []
        for layer, targets in self.targets.items():  # draws in the untiled call's order
            parts = []
            for i, _, factor in self.regions_at(*self._tile_sizes[layer]):
                prefix = f"{layer}:{i}:"
                sums = {key.removeprefix(prefix): value for key, value in stats.items() if key.startswith(prefix)}
                target = self.statistic.draw(targets[i], self.generator)
                parts.append(factor * self.statistic.tiled_distance(sums, target))
            losses.append(torch.stack(parts).sum() if parts else next(iter(stats.values())).new_zeros(()))
        return self.weight * torch.stack(losses).mean()


@register_term(
    "tv",
    color="#16a34a",
    legend="total variation",
    control=WeightControl("Smoothness", -4, 2, "smoothness (total variation) weight, as a power of ten.",
                          hint="right: fewer speckles, softer detail", param="log_tv"),
)  # fmt: skip
@dataclass
class TotalVariationTerm:
    """Smoothness of the generated pixels; needs no features and no target."""

    weight: float
    layers: tuple[str, ...] = ()
    name: str = "tv"

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        return None

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        return self.weight * tv_loss(image)

    def tile_value(self, own: Mapping[str, Tensor], pixels: Tensor, window: Window, index: int) -> Tensor:
        """Pairs whose first pixel is in the tile's own region (the halo supplies the second)."""
        (y0, y1, x0, x1), (height, width) = window.in_crop(), window.size
        channels = pixels.shape[1]
        # The crop reaches past the own region wherever the image does, so its edge is the image's.
        rows = pixels[..., y0 : min(y1 + 1, pixels.shape[-2]), x0:x1]
        cols = pixels[..., y0:y1, x0 : min(x1 + 1, pixels.shape[-1])]
        dy = (rows[..., 1:, :] - rows[..., :-1, :]).pow(2).sum() / (channels * (height - 1) * width)
        dx = (cols[..., :, 1:] - cols[..., :, :-1]).pow(2).sum() / (channels * height * (width - 1))
        return self.weight * (dy + dx)


@dataclass
class TemporalTerm:
    """Stay close to the previous stylised frame, warped into this one, where the flow is trusted.

    Ruder et al. 2016's short-term temporal loss. ``target`` and ``mask`` are fixed when the frame
    starts (they come from the previous result, not from this frame's content or styles); a
    coarser scale reads them resized.
    """

    weight: float
    target: Tensor  # (1, 3, H, W) previous stylised frame warped into this one
    mask: Tensor  # (1, 1, H, W) 1 where the warp is consistent
    layers: tuple[str, ...] = ()
    name: str = "temporal"
    _sized: dict[tuple[int, int], tuple[Tensor, Tensor]] = field(default_factory=dict, repr=False, init=False)

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        return None

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        target, mask = self.at_size(image.shape[-2], image.shape[-1])
        return self.weight * temporal_loss(image, target, mask)

    def at_size(self, height: int, width: int) -> tuple[Tensor, Tensor]:
        """Target and mask at a scale's size (a tiled step reads them too); resized once per size."""
        if (height, width) == tuple(self.target.shape[-2:]):
            return self.target, self.mask
        if (height, width) not in self._sized:
            size = (height, width)
            target = torch.nn.functional.interpolate(self.target, size=size, mode="bilinear", antialias=True)
            # Area averaging keeps a cell only as trusted as its pixels; below 1 counts partly.
            mask = torch.nn.functional.adaptive_avg_pool2d(self.mask, size)
            self._sized[(height, width)] = (target, mask)
        return self._sized[(height, width)]

    def tile_value(self, own: Mapping[str, Tensor], pixels: Tensor, window: Window, index: int) -> Tensor:
        target, mask = self.at_size(*window.size)
        norm = (mask.expand_as(target) * target.pow(2)).sum()  # fixed for the scale; small next to VGG
        ours = crop(pixels, window.in_crop())
        weights = crop(mask, window.box).expand_as(ours)
        return self.weight * (weights * (ours - crop(target, window.box)).pow(2)).sum() / (norm + _EPS)


def default_terms(
    config: StyleConfig,
    regions: Sequence[Mask | None] | None = None,
    style_regions: Sequence[Mask | None] = (),
) -> list[LossTerm]:
    """Every registered term (content, style, total variation, ...), weighted and layered as ``config`` says;
    with ``regions``, the style term per region."""
    check_term_weights(config)
    return [kind.make(config, regions, style_regions) for kind in TERMS.values()]


#: The names front ends label losses with, in order (the built-in terms').
TERM_NAMES: tuple[str, ...] = tuple(TERMS)
