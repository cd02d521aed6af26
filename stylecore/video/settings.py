"""What video adds to a :class:`~stylecore.config.StyleConfig`; no torch, so `stylecore video --help` stays quick."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import StyleConfig
from ..errors import ConfigError

DEFAULT_TEMPORAL_WEIGHT = 30.0


@dataclass(frozen=True)
class VideoSettings:
    """What video adds to a :class:`StyleConfig`."""

    temporal_weight: float = DEFAULT_TEMPORAL_WEIGHT  # 0: frame by frame, no flow
    later_iterations: int | None = None  # steps for frames after the first; None: a quarter of ``iterations``

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temporal_weight) and self.temporal_weight >= 0):
            raise ConfigError(f"temporal weight must be a finite number >= 0, got {self.temporal_weight!r}")
        if self.later_iterations is not None and self.later_iterations < 1:
            raise ConfigError(f"later iterations must be at least 1, got {self.later_iterations!r}")

    @property
    def temporal(self) -> bool:
        return self.temporal_weight > 0

    def iterations_after_first(self, config: StyleConfig) -> int:
        """Frames that start from the warped previous result need fewer steps; frame by frame, all of them."""
        if not self.temporal:
            return self.later_iterations or config.iterations
        return self.later_iterations or max(1, config.iterations // 4)
