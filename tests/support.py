"""Plain helpers and constants more than one test module uses (fixtures live in conftest.py).

Test modules import from here, never from one another.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

#: The quickest ``stylecore video`` run settings: 48 px, 4 steps, seeded random weights, two layers.
FAST = ["--size", "48", "--iterations", "4", "--weights", "random:0", "--content-layers", "conv2_1",
        "--style-layers", "conv1_1,conv2_1", "-q"]  # fmt: skip


def decoded(path: Path) -> tuple[list[np.ndarray], Fraction, str | None, float]:
    """Frames, frame rate, audio codec and audio seconds, decoded with PyAV directly."""
    import av  # the [video] extra: only the tests that decode need it

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        rate = stream.average_rate
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return frames, rate, None, 0.0
        audio = container.streams.audio[0]
        samples = sum(f.samples for f in container.decode(audio))
        return frames, rate, audio.codec_context.name, samples / audio.rate
