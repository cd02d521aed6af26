"""Temporally consistent video stylisation (Ruder, Dosovitskiy & Brox 2016), without file I/O.

Each frame after the first starts from the previous stylised frame, warped into it by
optical flow, and a :class:`~stylecore.objective.terms.TemporalTerm` keeps it close to that warp where
the flow is consistent both ways. Frames then start near their answer, so they take fewer
steps (``later_iterations``). ``temporal_weight=0`` is plain frame-by-frame stylisation.

Decoding and encoding files is :mod:`stylecore.video.media`; the command is ``stylecore video``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from torch import Tensor

from ..config import StyleConfig
from ..imaging.color import luminance_images
from ..model.extractor import VGGExtractor, vgg19_extractor
from ..objective.terms import TemporalTerm
from ..optim.engine import resize, to_long_side
from ..optim.run import StyleRun, resolve_device
from .flow import consistency_mask, dis_flow, warp
from .settings import VideoSettings as VideoSettings  # re-exported: its old home, which older code imports

#: ``flow(a, b)``: the flow of frame ``a`` towards frame ``b`` (see :mod:`stylecore.video.flow`).
FlowFn = Callable[[Tensor, Tensor], Tensor]

# Adam's first steps move every pixel by about the step size, whatever its gradient: from a warped
# start that is already close, that alone is flicker. Frames after the first take smaller steps.
WARM_STEP_SCALE = 0.25


class FrameChain:
    """Stylises the frames of one shot in order; each frame's run starts where the last one ended.

    Call :meth:`start` with the next frame, iterate the :class:`StyleRun` it returns (or just call
    ``result()`` after iterating), then :meth:`accept` its image. :meth:`accept` also resumes a chain
    from a frame finished earlier (a cache).
    """

    def __init__(
        self,
        styles: Sequence[Tensor],
        config: StyleConfig,
        settings: VideoSettings | None = None,
        *,
        extractor: VGGExtractor | None = None,
        flow: FlowFn = dis_flow,
    ) -> None:
        self.styles, self.config = list(styles), config
        self.settings = settings or VideoSettings()
        self.extractor = extractor or vgg19_extractor(
            layers=config.layers, weights=config.weights, device=resolve_device(config.device)
        )
        self.flow = flow
        self._later = self._later_config(config)
        self._previous: tuple[Tensor, Tensor] | None = None  # (frame, its stylised image) at the output size

    def _later_config(self, config: StyleConfig) -> StyleConfig:
        later = config.with_overrides(iterations=self.settings.iterations_after_first(config))
        if self.settings.temporal and config.optimizer == "adam":
            return later.with_overrides(lr=config.step_size * WARM_STEP_SCALE)
        return later

    @property
    def started(self) -> bool:
        """True once a frame's result was accepted: the next frame is a later one."""
        return self._previous is not None

    def start(self, frame: Tensor) -> StyleRun:
        """The run for ``frame`` ((1, 3, H, W) or (3, H, W) in [0, 1]); the first one uses ``config`` as is."""
        frame = self._sized(frame)
        if self._previous is None:
            return StyleRun(frame, self.styles, self.config, extractor=self.extractor)
        if not self.settings.temporal:
            return StyleRun(frame, self.styles, self._later, extractor=self.extractor)
        before, stylised = self._previous
        backward, forward = self.flow(frame, before), self.flow(before, frame)
        mask = consistency_mask(forward, backward)
        warped = warp(self._optimised(resize(stylised, *frame.shape[-2:])), backward)
        init = mask * warped + (1 - mask) * self._optimised(frame)  # what just appeared starts from the photo
        term = TemporalTerm(self.settings.temporal_weight, warped, mask)
        return StyleRun(frame, self.styles, self._later, extractor=self.extractor, init=init, terms=[term])

    def accept(self, frame: Tensor, stylised: Tensor) -> None:
        """Record ``frame``'s result: the next frame is warped from it."""
        self._previous = (self._sized(frame), stylised.to(self.extractor.mean.device))

    def _optimised(self, image: Tensor) -> Tensor:
        """``image`` as the optimizer sees it: grey luminance in luminance-only transfer (colour is the photo's)."""
        return luminance_images(image, image)[0] if self.config.preserve_colors == "luminance" else image

    def _sized(self, frame: Tensor) -> Tensor:
        frame = frame.unsqueeze(0) if frame.dim() == 3 else frame
        return to_long_side(frame.to(self.extractor.mean.device).float(), self.config.size)


def stylize_frames(
    frames: Iterable[Tensor],
    styles: Sequence[Tensor],
    config: StyleConfig,
    settings: VideoSettings | None = None,
    *,
    extractor: VGGExtractor | None = None,
    flow: FlowFn = dis_flow,
) -> Iterator[Tensor]:
    """Stylise consecutive frames of one shot; yields each result (1, 3, H, W) on the CPU, in order."""
    chain = FrameChain(styles, config, settings, extractor=extractor, flow=flow)
    for frame in frames:
        run = chain.start(frame)
        for _ in run:
            pass
        image = run.result().image
        chain.accept(frame, image)
        yield image
