"""Print-size steps: one exact step computed tile by tile, so memory follows the tile, not the image.

Only the style terms are global, and each is a function of statistics summed over positions
(:mod:`stylecore.objective.tile_terms`). So a step is two passes over the tiles:

1. without grad, every tile (with a halo) goes forward and its partial statistics are summed;
   the style loss at the summed statistics gives ``∂L/∂S`` (autograd, on a leaf);
2. tile by tile, with grad: backpropagate ``Σ ⟨∂L/∂S, S_t⟩`` plus the tile's content, TV and
   temporal values, and add the crop's pixel gradient into the image's.

A tile's features equal the whole image's when its halo covers the deepest layer's receptive
field and crop origins sit on the deepest pooling grid (:func:`halo_for`). Only each tile's own
region of every feature map counts. With ``torch.distributed`` initialised, each rank takes every
``world``-th tile; pass 1's statistics and pass 2's gradients are all-reduced (sums).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from ..config import StyleConfig
from ..errors import ConfigError
from ..model.extractor import VGGExtractor
from ..model.layers import VGG19_LAYERS, layer_names, min_side, trunk_shapes
from ..objective.regions import Mask, at_layer
from ..objective.registry import LossTerm
from ..objective.style import Stat, StyleStatistic
from ..objective.tile_terms import Box, GlobalTerm, LocalTerm, Window, combine, crop
from .engine import LossTerms

#: Content targets of every tile are kept (own regions only) up to this size, else recomputed each step.
CONTENT_CACHE_BYTES = 1 << 30


def halo_for(layers: Sequence[str]) -> int:
    """Pixels of context a tile needs on each side so that its features at ``layers`` are exact.

    Zero padding at a crop edge spoils one more cell per 3x3 conv, and a pool spoils any cell that
    touches a spoiled one; rounded up to the deepest pooling stride (conv5_1: 80).
    """
    deepest = max(layer_names(layers), key=VGG19_LAYERS.__getitem__)
    spoiled, stride = 0, 1
    for kind, *_ in trunk_shapes(1, 1, deepest):
        if kind == "conv":
            spoiled += stride
        elif kind == "pool":
            stride *= 2
            spoiled = math.ceil(spoiled / stride) * stride
    align = min_side(layers)
    return max(align, math.ceil(spoiled / align) * align)


def layer_stride(layer: str) -> int:
    """How many image pixels one cell of ``layer`` spans (2 per max-pool before it)."""
    index = VGG19_LAYERS[layer]
    return int(2 ** sum(1 for name, i in VGG19_LAYERS.items() if name.startswith("pool") and i < index))


@dataclass(frozen=True)
class Tile:
    own: Box  # the pixels this tile is responsible for
    crop: Box  # own plus halo, clipped to the image; what goes through VGG

    def window(self, size: tuple[int, int], stride: int = 1) -> Window:
        """The own region in a full map of ``size`` whose cells span ``stride`` pixels.

        Crop origins are on the pooling grid, so the crop's map starts at cell ``origin // stride``;
        a region ending at the image's edge ends at its map's edge (pools floor both alike).
        """
        y0, y1, x0, x1 = self.own
        origin = (self.crop[0] // stride, self.crop[2] // stride)
        return Window((y0 // stride, y1 // stride, x0 // stride, x1 // stride), size, origin)


def tile_grid(height: int, width: int, tile: int, halo: int) -> list[Tile]:
    """Row-major tiles of ``tile`` px (the last row and column take the rest) with ``halo`` around."""
    tiles = []
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            crop = (max(0, y0 - halo), min(height, y1 + halo), max(0, x0 - halo), min(width, x1 + halo))
            tiles.append(Tile((y0, y1, x0, x1), crop))
    return tiles


def uses_tiles(height: int, width: int, config: StyleConfig) -> bool:
    """Tile this scale? Only when ``config.tile`` is a size and the image is larger than one tile.

    ``"auto"`` is resolved to a size (or 0) before a run (:func:`stylecore.optim.memory.resolve_tile`).
    """
    return 0 < tile_px(config) < max(height, width)


def tile_px(config: StyleConfig) -> int:
    """``config.tile`` as a size; 0 for off and for an unresolved ``"auto"``."""
    return config.tile if isinstance(config.tile, int) else 0


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class TiledObjective:
    """The objective and its pixel gradient at a whole image, computed tile by tile (exact).

    Each term runs as its own :class:`~stylecore.objective.tile_terms.GlobalTerm` or
    :class:`~stylecore.objective.tile_terms.LocalTerm`; the objective is the
    :class:`~stylecore.objective.tile_terms.TileContext` their ``set_tile_targets`` ask for whole-image targets.
    """

    def __init__(
        self,
        extractor: VGGExtractor,
        terms: Sequence[LossTerm],
        size: tuple[int, int],
        tile: int,
        *,
        bf16: bool = False,
        cache_bytes: int = CONTENT_CACHE_BYTES,
    ) -> None:
        self.extractor, self.terms, self.bf16, self.cache_bytes = extractor, list(terms), bf16, cache_bytes
        self.size, self.tile = size, tile
        wanted = [layer for t in terms for layer in t.layers]
        self.layers = layer_names(wanted) if wanted else ()
        self.tiles = tile_grid(*size, tile, halo_for(wanted) if wanted else 1)  # TV reads one pixel on
        self.rank, self.world = _world()
        self.globals: list[GlobalTerm] = []
        self.locals: list[LocalTerm] = []
        self.gathered: list[frozenset[str]] = []  # per global term, fixed once its targets are
        self.global_layers: tuple[str, ...] = ()
        self._content: Tensor | None = None

    def set_targets(self, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]) -> None:
        """Each term's targets, through its ``set_tile_targets`` when it has one (else its own ``set_targets``)."""
        self._content, self.globals, self.locals = content, [], []
        for term in self.terms:
            if isinstance(term, GlobalTerm):
                self.globals.append(term)
            elif isinstance(term, LocalTerm):
                self.locals.append(term)
            else:
                raise ConfigError(f"tiling does not support the {type(term).__name__} term ({term.name}); use --tile 0")
            with torch.no_grad():
                if hasattr(term, "set_tile_targets"):
                    term.set_tile_targets(self, content, styles, shares)
                else:
                    term.set_targets(self.extractor, content, styles, shares)
        self.gathered = [term.gathered_keys() for term in self.globals]
        if any(self.gathered) and self.world > 1:
            raise ConfigError(
                "statistics that gather positions (sliced) do not spread over several processes; use gram or meancov"
            )
        self.global_layers = layer_names([n for t in self.globals for n in t.layers]) if self.globals else ()
        self._content = None  # the content targets keep what they need

    def _mine(self) -> list[int]:
        return list(range(self.rank, len(self.tiles), self.world))

    def _features(self, pixels: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
        if not layers:
            return {}
        with torch.autocast(pixels.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            features = self.extractor(pixels, layers)
        return {name: f.to(pixels.dtype) for name, f in features.items()}  # autocast's bf16 back to the pixels' type

    def _own(self, tile: Tile, features: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Window]]:
        own, windows = {}, {}
        for name, f in features.items():
            stride = layer_stride(name)
            windows[name] = tile.window((self.size[0] // stride, self.size[1] // stride), stride)
            own[name] = crop(f, windows[name].in_crop())
        return own, windows

    @torch.no_grad()
    def content_targets(self, layers: Sequence[str]) -> tuple[Callable[[int], dict[str, Tensor]], dict[str, Tensor]]:
        """Σ t² per layer over the whole content, and its tiles' own targets (cached if they fit ``cache_bytes``)."""
        content = self._content
        assert content is not None, "content targets are set in set_targets"
        cached: dict[int, dict[str, Tensor]] = {}
        norms = {n: content.new_zeros(()) for n in layers}
        keep = self._cache_size(layers) <= self.cache_bytes * self.world  # each rank keeps only its own tiles'
        mine = set(self._mine())
        for index, tile in enumerate(self.tiles):
            own, _ = self._own(tile, self._features(crop(content, tile.crop), layers))
            for n in layers:
                norms[n] += own[n].pow(2).sum()
            if keep and index in mine:
                cached[index] = {n: f.clone() for n, f in own.items()}  # not views that keep the halo alive
        recompute = None if keep else content

        def targets(index: int) -> dict[str, Tensor]:
            if recompute is None:
                return cached[index]
            tile = self.tiles[index]
            with torch.no_grad():
                return self._own(tile, self._features(crop(recompute, tile.crop), layers))[0]

        return targets, norms

    @torch.no_grad()
    def statistics(
        self, image: Tensor, statistic: StyleStatistic, layers: Sequence[str], where: Mask | None
    ) -> dict[str, Stat]:
        """``statistic`` at each of ``layers`` of a whole ``image`` (positions weighted by ``where``), from tiles."""
        return image_statistics(self.extractor, image, statistic, layers, self.tile, where)

    def _cache_size(self, layers: Sequence[str]) -> int:
        height, width = self.size
        total = 0
        for name in layers:
            stride = layer_stride(name)
            channels = list(trunk_shapes(1, 1, name))[-1][2]
            total += 4 * channels * (height // stride) * (width // stride)
        return total

    def backward(self, image: Tensor) -> LossTerms:
        """The loss at ``image`` (a leaf); its gradient, computed tile by tile, is accumulated into ``image.grad``."""
        values, grad = self.evaluate(image)
        image.backward(grad)  # type: ignore[no-untyped-call]
        return LossTerms.of(values)

    def evaluate(self, image: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """Each term's weighted value (and ``total``) at ``image`` (1, 3, H, W), and d total / d image."""
        image = image.detach()
        values = {t.name: v for t, v in zip(self.globals, self._global_pass(image), strict=True)}
        grad, local_values = self._gradient_pass(image)
        values.update(zip((t.name for t in self.locals), local_values, strict=True))
        ordered = {term.name: values[term.name] for term in self.terms}
        ordered["total"] = torch.stack(list(ordered.values())).sum()
        return ordered, grad

    def _global_pass(self, image: Tensor) -> list[Tensor]:
        """Pass 1: summed statistics, each style loss there, and ∂L/∂S kept for pass 2."""
        self._grads: list[dict[str, Tensor]] = []
        if not self.globals:
            return []
        sums: list[dict[str, Tensor]] = [{} for _ in self.globals]  # running, not one per tile
        with torch.no_grad():
            for index in self._mine() or [0]:
                tile = self.tiles[index]
                own, windows = self._own(tile, self._features(crop(image, tile.crop), self.global_layers))
                for k, term in enumerate(self.globals):
                    stats = term.tile_statistics(own, windows)
                    if not self._mine():  # a rank without tiles adds zeros of the right shapes
                        stats = {key: torch.zeros_like(v) for key, v in stats.items()}
                    sums[k] = combine([sums[k], stats], self.gathered[k]) if sums[k] else stats
        values = []
        for term, whole in zip(self.globals, sums, strict=True):
            if self.world > 1:
                _all_reduce(whole)
            leaves = {key: v.detach().requires_grad_(True) for key, v in whole.items()}
            with torch.enable_grad():
                loss = term.tile_loss(leaves)
                grads = torch.autograd.grad(loss, list(leaves.values()), allow_unused=True)
            self._grads.append(
                {
                    key: torch.zeros_like(v) if g is None else g
                    for (key, v), g in zip(leaves.items(), grads, strict=True)
                }
            )
            values.append(loss.detach())
        return values

    def _surrogate(
        self, own: Mapping[str, Tensor], windows: Mapping[str, Window], offsets: list[dict[str, int]]
    ) -> Tensor | None:
        """Σ ⟨∂L/∂S, S_t⟩ over the style terms: its gradient is the style losses' (S is linear in S_t)."""
        total: Tensor | None = None
        for term, gathered, grads, seen in zip(self.globals, self.gathered, self._grads, offsets, strict=True):
            for key, stat in term.tile_statistics(own, windows).items():
                grad = grads[key]
                if key in gathered:  # this tile's columns of the gathered projections
                    start = seen.get(key, 0)
                    grad, seen[key] = grad[..., start : start + stat.shape[-1]], start + stat.shape[-1]
                part = (grad * stat).sum()
                total = part if total is None else total + part
        return total

    def _gradient_pass(self, image: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Pass 2: each tile forward with grad; backprop the surrogate and the local values."""
        grad = torch.zeros_like(image)
        local_values = [image.new_zeros(()) for _ in self.locals]
        offsets: list[dict[str, int]] = [{} for _ in self.globals]
        for index in self._mine():
            tile = self.tiles[index]
            pixels = crop(image, tile.crop).clone().requires_grad_(True)
            own, windows = self._own(tile, self._features(pixels, self.layers))
            total = self._surrogate(own, windows, offsets)
            for k, term in enumerate(self.locals):
                value = term.tile_value(own, pixels, tile.window(self.size), index)
                local_values[k] += value.detach()
                total = value if total is None else total + value
            if total is not None and total.requires_grad:
                total.backward()  # type: ignore[no-untyped-call]
                crop(grad, tile.crop).add_(pixels.grad)  # type: ignore[arg-type]
        if self.world > 1:
            stacked = torch.stack(local_values) if local_values else image.new_zeros(0)
            dist.all_reduce(grad)
            dist.all_reduce(stacked)
            local_values = list(stacked.unbind())
        return grad, local_values


def _all_reduce(stats: dict[str, Tensor]) -> None:
    """Sum every statistic over the ranks in one call."""
    keys = list(stats)
    flat = torch.cat([stats[k].reshape(-1) for k in keys])
    dist.all_reduce(flat)
    start = 0
    for key in keys:
        count = stats[key].numel()
        stats[key] = flat[start : start + count].view_as(stats[key])
        start += count


@torch.no_grad()
def image_statistics(
    extractor: VGGExtractor,
    image: Tensor,
    statistic: StyleStatistic,
    layers: Sequence[str],
    tile: int,
    where: Mask | None = None,
) -> dict[str, Stat]:
    """``statistic`` at each of ``layers`` of a whole ``image`` (positions weighted by ``where``), from tiles."""
    size = (image.shape[-2], image.shape[-1])
    sums: dict[str, dict[str, Tensor]] = {}
    masks: dict[str, Tensor] = {}  # layer -> ``where`` at that layer's size
    for piece in tile_grid(*size, tile, halo_for(layers)):
        for name, f in extractor(crop(image, piece.crop), layers).items():
            stride = layer_stride(name)
            window = piece.window((size[0] // stride, size[1] // stride), stride)
            weights = None
            if where is not None:
                if name not in masks:
                    masks[name] = at_layer(where.to(f), *window.size)
                weights = crop(masks[name], window.box).flatten()
            part = statistic.partial(crop(f, window.in_crop())[0].flatten(1), weights)
            sums[name] = combine([sums[name], part], statistic.gathered) if name in sums else part
    return {name: statistic.from_partials(part, image.dtype) for name, part in sums.items()}
