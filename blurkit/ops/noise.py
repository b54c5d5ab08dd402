"""Sensor noise in linear light: Poisson (shot) + Gaussian (read) noise, seeded per image.

:func:`poisson_gaussian` is the sampler of chain 1 (torch's generator); chain 2 samples on the CPU
in compiled code (:mod:`blurkit.ops._chain_cpu`) from the tables of :func:`poisson_tables`.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

#: Expected photon counts above which the Poisson draw is replaced by its normal approximation
#: N(λ, λ): at λ = 64 the two distributions differ by less than 0.5% in total variation, and
#: sampling is ~10× faster on the CPU (exact Poisson sampling is a per-element rejection loop).
NORMAL_APPROX_PHOTONS = 64.0

#: Chain 2 draws exact Poisson counts below this many expected photons and a normal with the Poisson
#: variance from it on (the same switch as :data:`NORMAL_APPROX_PHOTONS`).
EXACT_POISSON_BELOW = 64

#: Guide-table buckets per Poisson table (as the compiled sampler indexes them).
GUIDE_BUCKETS = 128


@functools.lru_cache(maxsize=1)
def poisson_tables(size: int = EXACT_POISSON_BELOW, length: int = 192) -> tuple[np.ndarray, np.ndarray]:
    """Inversion tables of Poisson(m) for integer means m = 0..size-1.

    Returns ``(cdf, guide)``: ``cdf[m, k]`` = P(X <= k) in float64 (the last entry set to 1), and
    ``guide[m, b]`` = the smallest k with ``cdf[m, k] > b / GUIDE_BUCKETS``, where a search for a
    uniform ``u`` in bucket ``b`` starts. The tables are long enough that the mass beyond them is
    below 1e-20 for every m.

    >>> cdf, guide = poisson_tables()
    >>> cdf.shape, round(float(cdf[10, 10]), 6)
    ((64, 192), 0.58304)
    """
    cdf = np.empty((size, length))
    for m in range(size):
        p = math.exp(-m)
        total = 0.0
        for k in range(length):
            total += p
            cdf[m, k] = min(total, 1.0)
            p *= m / (k + 1)
        cdf[m, -1] = 1.0
    edges = np.arange(GUIDE_BUCKETS) / GUIDE_BUCKETS
    guide = np.stack([np.searchsorted(cdf[m], edges, side="right") for m in range(size)]).astype(np.int64)
    for arr in (cdf, guide):
        arr.flags.writeable = False
    return cdf, guide


def poisson_gaussian(
    x: torch.Tensor, shot: float, read: float, generator: torch.Generator
) -> torch.Tensor:
    """Add Poisson–Gaussian noise to a linear image in [0, 1].

    The signal is ``shot · Poisson(x / shot)`` (so the variance is ``shot · x``: ``1/shot`` photons at
    full scale) plus zero-mean Gaussian noise of standard deviation ``read``. Pixels expecting more
    than :data:`NORMAL_APPROX_PHOTONS` photons draw from the normal approximation of the Poisson law.
    ``shot = 0`` and ``read = 0`` disable each part. The result is not clipped.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> y = poisson_gaussian(torch.full((1, 100, 100), 0.5), 0.01, 0.0, g)
    >>> round(float(y.mean()), 2), round(float(y.var()), 3)
    (0.5, 0.005)
    """
    if shot < 0 or read < 0:
        raise ValueError(f"shot/read: noise levels must be >= 0, got shot={shot}, read={read}")
    import torch

    out = x
    if shot > 0:
        rate = (x.clamp_min(0.0) / shot).float()
        z = torch.randn(rate.shape, generator=generator, device=rate.device, dtype=torch.float32)
        counts = rate + rate.sqrt() * z
        low = rate < NORMAL_APPROX_PHOTONS
        if bool(low.any()):
            counts[low] = torch.poisson(rate[low], generator=generator)
        out = (counts * shot).to(x.dtype)
    if read > 0:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=torch.float32)
        out = out + (noise * read).to(x.dtype)
    return out
