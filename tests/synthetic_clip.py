"""A synthetic clip whose true motion is known: a textured scene panning, and a square moving across it.

Used to measure temporal consistency (the warping error) without a real video or trained weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

PAN = 2  # px per frame the camera moves right (the scene moves left)
MOVE = (3, 1)  # px per frame the square moves (x, y), in frame coordinates
SQUARE = 16  # its side


@dataclass(frozen=True)
class Clip:
    frames: list[Tensor]  # (1, 3, H, W) in [0, 1]
    backward: list[Tensor]  # true flow of frame t towards t - 1 (index 0 unused)
    forward: list[Tensor]  # true flow of frame t - 1 towards t (index 0 unused)
    consistent: list[Tensor]  # (1, 1, H, W): pixels of frame t visible in t - 1 at the flow's end

    def flow(self, a: Tensor, b: Tensor) -> Tensor:
        """The true flow of frame ``a`` towards ``b``, two consecutive frames of this clip (a FlowFn)."""
        same = torch.equal
        for t in range(1, len(self.frames)):
            if same(a, self.frames[t]) and same(b, self.frames[t - 1]):
                return self.backward[t]
            if same(a, self.frames[t - 1]) and same(b, self.frames[t]):
                return self.forward[t]
        raise ValueError("not two consecutive frames of this clip")


def texture(height: int, width: int, seed: int) -> Tensor:
    """Coloured noise at a few scales: enough detail for optical flow to lock on to."""
    generator = torch.Generator().manual_seed(seed)
    layers = []
    for cell in (16, 6, 2):
        coarse = torch.rand(1, 3, height // cell + 2, width // cell + 2, generator=generator)
        layers.append(F.interpolate(coarse, scale_factor=cell, mode="bilinear", align_corners=False))
    mixed = sum(layer[..., :height, :width] for layer in layers) / len(layers)
    return mixed.clamp(0, 1)


def synthetic_clip(frames: int = 12, height: int = 64, width: int = 96, seed: int = 0) -> Clip:
    scene = texture(height, width + PAN * frames, seed)
    square = texture(SQUARE, SQUARE, seed + 1) * 0.5 + 0.5  # brighter, so it stands out
    images, backward, forward, consistent = [], [], [], []
    for t in range(frames):
        frame = scene[..., t * PAN : t * PAN + width].clone()
        x, y = 4 + MOVE[0] * t, 8 + MOVE[1] * t
        frame[..., y : y + SQUARE, x : x + SQUARE] = square
        images.append(frame)
        flow = torch.zeros(1, 2, height, width)
        flow[:, 0] = PAN  # a background pixel was PAN px further right in the last frame
        flow[:, :, y : y + SQUARE, x : x + SQUARE] = -torch.tensor(MOVE, dtype=torch.float32).view(1, 2, 1, 1)
        backward.append(flow)
        forward.append(_forward_flow(height, width, (x - MOVE[0], y - MOVE[1])))
        consistent.append(_visible_before(flow, (x - MOVE[0], y - MOVE[1]), t))
    return Clip(images, backward, forward, consistent)


def _forward_flow(height: int, width: int, square_before: tuple[int, int]) -> Tensor:
    """Frame t - 1 towards t: the background moves left by PAN, the square by MOVE."""
    flow = torch.zeros(1, 2, height, width)
    flow[:, 0] = -PAN
    x, y = square_before
    flow[:, :, max(y, 0) : y + SQUARE, max(x, 0) : x + SQUARE] = torch.tensor(MOVE, dtype=torch.float32).view(
        1, 2, 1, 1
    )
    return flow


def _visible_before(flow: Tensor, square_before: tuple[int, int], t: int) -> Tensor:
    """Pixels whose source in frame t - 1 is inside it and shows the same surface."""
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    sx, sy = xs + flow[0, 0].long(), ys + flow[0, 1].long()
    inside = (sx >= 0) & (sx < w) & (sy >= 0) & (sy < h)
    bx, by = square_before
    was_square = (sx >= bx) & (sx < bx + SQUARE) & (sy >= by) & (sy < by + SQUARE)
    is_square = flow[0, 0] < 0
    mask = inside & (was_square == is_square) & (t > 0)
    return mask.float().view(1, 1, h, w)


def warping_error(outputs: list[Tensor], clip: Clip) -> float:
    """Mean |warp(out[t-1]) - out[t]| over consistent pixels and all frames after the first."""
    from stylecore.video.flow import warp

    total, count = 0.0, 0.0
    for t in range(1, len(outputs)):
        mask = clip.consistent[t]
        error = (warp(outputs[t - 1], clip.backward[t]) - outputs[t]).abs().mean(1, keepdim=True)
        total += float((error * mask).sum())
        count += float(mask.sum())
    return total / count


def write_clip(path: str, frames: list[Tensor], fps: int = 12, tone: float | None = 440.0, codec: str = "aac") -> None:
    """Encode ``frames`` with PyAV directly (not stylecore's writer), with a sine tone as sound."""
    from fractions import Fraction

    import av
    import numpy as np

    rate = 44100 if codec != "opus" else 48000
    with av.open(path, "w") as out:
        video = out.add_stream("libx264", rate=Fraction(fps), options={"crf": "10"})
        video.height, video.width = frames[0].shape[-2:]
        video.pix_fmt = "yuv420p"
        audio = out.add_stream(codec, rate=rate) if tone else None
        for frame in frames:
            pixels = frame[0].permute(1, 2, 0).mul(255).round().byte().numpy()
            out.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        out.mux(video.encode(None))
        if audio is None:
            return
        samples = len(frames) * rate // fps
        wave = (0.3 * np.sin(2 * np.pi * tone * np.arange(samples) / rate)).astype(np.float32)
        stereo = np.stack([wave, wave])
        chunk = audio.codec_context.frame_size or 1024
        for start in range(0, samples, chunk):
            part = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo[:, start : start + chunk]), format="fltp",
                                              layout="stereo")  # fmt: skip
            part.sample_rate, part.pts = rate, start
            out.mux(audio.encode(part))
        out.mux(audio.encode(None))
