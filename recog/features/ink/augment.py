"""Random affine distortion of normalized ink (numpy; the random draws come from the caller)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recog.features.ink.config import InkAugmentConfig


@dataclass
class AffineDraw:
    """One distortion: overall `scale`, horizontal `stretch`, `shear` and `rotation` (degrees)."""

    scale: float = 1.0
    stretch: float = 1.0
    shear: float = 0.0
    rotation: float = 0.0

    def matrix(self) -> np.ndarray:
        """[2, 2]: rotation @ shear @ diag(scale * stretch, scale), applied to column vectors (x, y)."""
        r = math.radians(self.rotation)
        rot = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
        shear = np.array([[1.0, -math.tan(math.radians(self.shear))], [0.0, 1.0]])  # y down: + leans right
        size = np.diag([self.scale * self.stretch, self.scale])
        return rot @ shear @ size


def draw_affine(config: InkAugmentConfig, uniforms: np.ndarray) -> AffineDraw:
    """Map 5 numbers uniform in [0, 1) (gate, scale, stretch, shear, rotation) to a draw.

    The caller supplies the uniforms (e.g. from a seeded torch or numpy generator), so this
    module holds no random state. The gate (first number) >= `prob` means "no change".
    """
    gate, u_scale, u_stretch, u_shear, u_rot = (float(u) for u in uniforms)
    if gate >= config.prob:
        return AffineDraw()

    def log_uniform(u: float, s: float) -> float:
        return math.exp((2 * u - 1) * math.log1p(s))

    return AffineDraw(log_uniform(u_scale, config.scale), log_uniform(u_stretch, config.stretch),
                      (2 * u_shear - 1) * config.shear, (2 * u_rot - 1) * config.rotation)


def apply_affine(xy: np.ndarray, draw: AffineDraw) -> np.ndarray:
    """Points [N, 2] (core heights, baseline at y = 0) -> distorted points [N, 2] (about the origin)."""
    return xy @ draw.matrix().T
