"""Sensor noise in linear light: Poisson (shot) + Gaussian (read) noise, seeded per image."""

from __future__ import annotations

import torch


def poisson_gaussian(
    x: torch.Tensor, shot: float, read: float, generator: torch.Generator
) -> torch.Tensor:
    """Add Poisson–Gaussian noise to a linear image in [0, 1].

    The signal is ``shot · Poisson(x / shot)`` (so the variance is ``shot · x``: ``1/shot`` photons at
    full scale) plus zero-mean Gaussian noise of standard deviation ``read``. ``shot = 0`` and
    ``read = 0`` disable each part. The result is not clipped.
    """
    if shot < 0 or read < 0:
        raise ValueError(f"shot/read: noise levels must be >= 0, got shot={shot}, read={read}")
    out = x
    if shot > 0:
        rate = (x.clamp_min(0.0) / shot).float()
        out = (torch.poisson(rate, generator=generator) * shot).to(x.dtype)
    if read > 0:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=torch.float32)
        out = out + (noise * read).to(x.dtype)
    return out
