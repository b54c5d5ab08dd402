"""Straight-line motion kernels (what albumentations and kornia offer), with sub-pixel length and angle,
rasterised, normalised and centred like every blurkit kernel."""

from __future__ import annotations

import math

import numpy as np

from blurkit.kernels.psf import rasterize


def line_positions(length: float, angle: float, samples_per_px: int = 16) -> np.ndarray:
    """Evenly spaced (x, y) samples along a centred segment of ``length`` px at ``angle`` degrees.

    The angle is counter-clockwise as seen on screen (image rows grow downwards, so y = -sin).
    """
    if not math.isfinite(length) or length < 0:
        raise ValueError(f"length: must be a finite number >= 0, got {length!r}")
    if not math.isfinite(angle):
        raise ValueError(f"angle: must be finite, got {angle!r}")
    if samples_per_px < 1:
        raise ValueError(f"samples_per_px: must be >= 1, got {samples_per_px}")
    n = max(2, int(math.ceil(length * samples_per_px)) + 1)
    t = np.linspace(-length / 2.0, length / 2.0, n)
    a = math.radians(angle)
    return np.stack([t * math.cos(a), -t * math.sin(a)], axis=1)


def line_kernel(length: float, angle: float = 0.0, size: int | None = None) -> np.ndarray:
    """A straight motion-blur kernel of sub-pixel ``length`` (px) at ``angle`` (degrees).

    >>> k = line_kernel(6.5, 30.0)
    >>> k.shape[0] % 2, round(float(k.sum()), 6)
    (1, 1.0)
    """
    return rasterize(line_positions(length, angle), size=size)
