"""Random camera-shake trajectories (Boracchi & Foi 2012), compiled with Numba.

A trajectory is a 2-D Markov process of ``samples`` positions. Per trajectory, the model draws a
length ``L``, an anxiety ``expl``, a centripetal pull, a probability of big (impulsive) shakes, a
Gaussian shake strength and an initial direction. Each step the velocity receives Gaussian noise and a
pull towards the origin (scaled by ``expl``), and with probability ``prob_big_shake·expl`` a near
reversal; it is then renormalised to ``L/(samples-1)``, so every trajectory has length ``L`` exactly.
This is the model behind DeblurGAN's ``motion_blur/`` scripts, with every parameter exposed as a range.

Randomness: trajectory *i* of a call is driven by its own stream, seeded from ``(root, i)`` where
``root`` comes from the caller's seed/Generator; results do not depend on batch size, thread count or
order. ``sample_kernels`` and ``sample_trajectories`` with the same seed describe the same trajectories.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from blurkit._rng import SeedLike, as_generator
from blurkit.kernels import _prng
from blurkit.kernels.psf import (
    check_size,
    exposure_samples,
    fit_half,
    fit_scale,
    size_for_radius,
    splat_centred,
)

Range = tuple[float, float]

#: Order of the per-trajectory drawn values in ``drawn`` arrays and records.
DRAWN_FIELDS = ("length", "anxiety", "centripetal", "big_shake", "gaussian_shake", "angle", "exposure")


def _as_range(name: str, value: float | Sequence[float], lo: float, hi: float) -> Range:
    if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        pair = (float(value), float(value))
    else:
        try:
            a, b = value  # type: ignore[misc]
            pair = (float(a), float(b))
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected a number or a (low, high) pair, got {value!r}") from None
    if not (math.isfinite(pair[0]) and math.isfinite(pair[1])):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    if pair[0] > pair[1]:
        raise ValueError(f"{name}: low {pair[0]} is greater than high {pair[1]}")
    if pair[0] < lo or pair[1] > hi:
        raise ValueError(f"{name}: must lie in [{lo}, {hi}], got {value!r}")
    return pair


@dataclass(frozen=True)
class TrajectoryParams:
    """Parameters of the camera-shake model; each is a value or a ``(low, high)`` uniform range.

    Attributes:
        samples: number of positions T (DeblurGAN: 2000).
        length: total path length in pixels (DeblurGAN: 60).
        anxiety: ``expl``, the amount of shake (DeblurGAN draws it from 0.003..0.01); 0 gives a line.
        centripetal: pull towards the start (DeblurGAN: 0.7·U).
        big_shake: probability scale of impulsive shakes (DeblurGAN: 0.2·U).
        gaussian_shake: strength of the Gaussian velocity noise (DeblurGAN: 10·U).
        exposure: exposure fractions to choose from uniformly; the PSF integrates the first ``f·T``
            samples (DeblurGAN computes 1/100, 1/10, 1/2 and 1).

    >>> TrajectoryParams(length=(10, 40)).length
    (10.0, 40.0)
    """

    samples: int = 2000
    length: Range = (60.0, 60.0)
    anxiety: Range = (0.003, 0.01)
    centripetal: Range = (0.0, 0.7)
    big_shake: Range = (0.0, 0.2)
    gaussian_shake: Range = (0.0, 10.0)
    exposure: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if isinstance(self.samples, bool) or int(self.samples) != self.samples or not 2 <= self.samples <= 10**6:
            raise ValueError(f"samples: must be an integer in [2, 1000000], got {self.samples!r}")
        object.__setattr__(self, "samples", int(self.samples))
        object.__setattr__(self, "length", _as_range("length", self.length, 0.0, 10_000.0))
        object.__setattr__(self, "anxiety", _as_range("anxiety", self.anxiety, 0.0, 1.0))
        object.__setattr__(self, "centripetal", _as_range("centripetal", self.centripetal, 0.0, 100.0))
        object.__setattr__(self, "big_shake", _as_range("big_shake", self.big_shake, 0.0, 1.0))
        object.__setattr__(self, "gaussian_shake", _as_range("gaussian_shake", self.gaussian_shake, 0.0, 1e4))
        exp = self.exposure
        fractions = (float(exp),) if np.isscalar(exp) else tuple(float(f) for f in exp)  # type: ignore[arg-type]
        if not fractions:
            raise ValueError("exposure: at least one fraction is required")
        for f in fractions:
            exposure_samples(self.samples, f)  # validates (0, 1]
        object.__setattr__(self, "exposure", fractions)

    def replace(self, **changes: object) -> TrajectoryParams:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def _packed(self) -> np.ndarray:
        return np.array(
            [*self.length, *self.anxiety, *self.centripetal, *self.big_shake, *self.gaussian_shake],
            dtype=np.float64,
        )


@njit(cache=True)
def _draw(s: np.ndarray, prm: np.ndarray, exposures: np.ndarray, drawn: np.ndarray) -> None:
    for j in range(5):
        lo = prm[2 * j]
        hi = prm[2 * j + 1]
        drawn[j] = lo + (hi - lo) * _prng.uniform(s)
    drawn[5] = 360.0 * _prng.uniform(s)
    idx = int(_prng.uniform(s) * exposures.shape[0])
    drawn[6] = exposures[min(idx, exposures.shape[0] - 1)]


@njit(cache=True, inline="always")
def _start(drawn: np.ndarray, n: int):  # type: ignore[no-untyped-def]
    """Initial velocity and per-step constants of a trajectory from its drawn parameters."""
    expl = drawn[1]
    step = drawn[0] / (n - 1)
    angle = math.radians(drawn[5])
    vx = math.cos(angle)
    vy = math.sin(angle)
    if expl > 0.0:
        vx *= expl
        vy *= expl
    else:
        vx *= step
        vy *= step
    # (vx, vy, step, anxiety, centripetal, big-shake threshold, Gaussian shake)
    return vx, vy, step, expl, drawn[2], drawn[3] * expl, drawn[4]


@njit(cache=True, inline="always")
def _step(  # type: ignore[no-untyped-def]
    vx: float, vy: float, x: float, y: float,
    s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64,
    step: float, expl: float, centripetal: float, threshold: float, gauss: float,
):
    """One step of the Markov process; returns the new velocity, position, stream state and 1 for a
    big shake. The stream state travels as four scalars so that it stays in registers."""
    u, s0, s1, s2, s3 = _prng.uniform_v(s0, s1, s2, s3)
    nx = 0.0
    ny = 0.0
    big = 0
    if u < threshold:
        # impulsive shake: a near reversal, 2v rotated by pi + U - 1/2
        w, s0, s1, s2, s3 = _prng.uniform_v(s0, s1, s2, s3)
        phi = math.pi + (w - 0.5)
        c = math.cos(phi)
        sn = math.sin(phi)
        nx = 2.0 * (vx * c - vy * sn)
        ny = 2.0 * (vx * sn + vy * c)
        big = 1
    g1, s0, s1, s2, s3 = _prng.normal_v(s0, s1, s2, s3)
    g2, s0, s1, s2, s3 = _prng.normal_v(s0, s1, s2, s3)
    vx += nx + expl * (gauss * g1 - centripetal * x) * step
    vy += ny + expl * (gauss * g2 - centripetal * y) * step
    norm = math.sqrt(vx * vx + vy * vy)
    if norm > 0.0:
        vx = vx / norm * step
        vy = vy / norm * step
    return vx, vy, x + vx, y + vy, s0, s1, s2, s3, big


@njit(cache=True)
def _walk(s: np.ndarray, drawn: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> int:
    """Fill xs, ys with one trajectory; return the number of big shakes (``s`` is advanced)."""
    n = xs.shape[0]
    vx, vy, step, expl, cen, thr, gauss = _start(drawn, n)
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    x = 0.0
    y = 0.0
    xs[0] = 0.0
    ys[0] = 0.0
    big = 0
    for t in range(n - 1):
        vx, vy, x, y, s0, s1, s2, s3, b = _step(vx, vy, x, y, s0, s1, s2, s3, step, expl, cen, thr, gauss)
        big += b
        xs[t + 1] = x
        ys[t + 1] = y
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
    return big


@njit(cache=True)
def _walk2(
    sa: np.ndarray, da: np.ndarray, xa: np.ndarray, ya: np.ndarray,
    sb: np.ndarray, db: np.ndarray, xb: np.ndarray, yb: np.ndarray,
) -> tuple[int, int]:
    """Two independent trajectories walked in lockstep. Each step's velocity update is a chain of
    dependent sqrt/div operations; interleaving two chains lets the CPU overlap them. Each lane does
    exactly what ``_walk`` does, so the results are bit-identical to two separate walks."""
    n = xa.shape[0]
    avx, avy, ast, aex, acp, ath, ags = _start(da, n)
    bvx, bvy, bst, bex, bcp, bth, bgs = _start(db, n)
    a0, a1, a2, a3 = sa[0], sa[1], sa[2], sa[3]
    b0, b1, b2, b3 = sb[0], sb[1], sb[2], sb[3]
    ax = 0.0
    ay = 0.0
    bx = 0.0
    by = 0.0
    abig = 0
    bbig = 0
    xa[0] = 0.0
    ya[0] = 0.0
    xb[0] = 0.0
    yb[0] = 0.0
    for t in range(n - 1):
        avx, avy, ax, ay, a0, a1, a2, a3, ia = _step(avx, avy, ax, ay, a0, a1, a2, a3, ast, aex, acp, ath, ags)
        bvx, bvy, bx, by, b0, b1, b2, b3, ib = _step(bvx, bvy, bx, by, b0, b1, b2, b3, bst, bex, bcp, bth, bgs)
        abig += ia
        bbig += ib
        xa[t + 1] = ax
        ya[t + 1] = ay
        xb[t + 1] = bx
        yb[t + 1] = by
    return abig, bbig


@njit(cache=True)
def _pair(
    seeds: np.ndarray, g: int, samples: int, prm: np.ndarray, exposures: np.ndarray,
    xs: np.ndarray, ys: np.ndarray, drawn: np.ndarray, bigs: np.ndarray,
) -> int:
    """Walk trajectories ``2g`` and ``2g + 1`` (the second if it exists) into rows 0 and 1 of
    xs/ys/drawn/bigs; return how many were walked."""
    i = 2 * g
    sa = _prng.new_state(seeds[i])
    _draw(sa, prm, exposures, drawn[0])
    if i + 1 < seeds.shape[0]:
        sb = _prng.new_state(seeds[i + 1])
        _draw(sb, prm, exposures, drawn[1])
        bigs[0], bigs[1] = _walk2(sa, drawn[0], xs[0], ys[0], sb, drawn[1], xs[1], ys[1])
        return 2
    bigs[0] = _walk(sa, drawn[0], xs[0], ys[0])
    return 1


@njit(cache=True)
def _seeds(root: np.uint64, start: int, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = _prng.stream_seed(root, np.uint64(start + i))
    return out


@njit(parallel=True, cache=True)
def _positions(seeds: np.ndarray, samples: int, prm: np.ndarray, exposures: np.ndarray):  # type: ignore[no-untyped-def]
    n = seeds.shape[0]
    pos = np.empty((n, samples, 2), dtype=np.float64)
    drawn = np.empty((n, 7), dtype=np.float64)
    bigs = np.empty(n, dtype=np.int64)
    for g in prange((n + 1) // 2):
        xs = np.empty((2, samples))
        ys = np.empty((2, samples))
        d = np.empty((2, 7))
        b = np.empty(2, dtype=np.int64)
        for lane in range(_pair(seeds, g, samples, prm, exposures, xs, ys, d, b)):
            i = 2 * g + lane
            pos[i, :, 0] = xs[lane]
            pos[i, :, 1] = ys[lane]
            drawn[i] = d[lane]
            bigs[i] = b[lane]
    return pos, drawn, bigs


@njit(parallel=True, cache=True)
def _fit_sizes(seeds: np.ndarray, samples: int, prm: np.ndarray, exposures: np.ndarray) -> np.ndarray:
    n = seeds.shape[0]
    sizes = np.empty(n, dtype=np.int64)
    for g in prange((n + 1) // 2):
        xs = np.empty((2, samples))
        ys = np.empty((2, samples))
        d = np.empty((2, 7))
        b = np.empty(2, dtype=np.int64)
        for lane in range(_pair(seeds, g, samples, prm, exposures, xs, ys, d, b)):
            m = max(2, min(samples, int(round(d[lane, 6] * samples))))
            _, _, r = fit_half(xs[lane], ys[lane], m)
            sizes[2 * g + lane] = size_for_radius(r)
    return sizes


@njit(parallel=True, cache=True)
def _raster(
    seeds: np.ndarray, samples: int, prm: np.ndarray, exposures: np.ndarray, k: int, out: np.ndarray,
    drawn: np.ndarray, bigs: np.ndarray, scales: np.ndarray,
) -> None:
    n = seeds.shape[0]
    room = (k - 1) / 2.0 - 1.0
    for g in prange((n + 1) // 2):
        xs = np.empty((2, samples))
        ys = np.empty((2, samples))
        d = np.empty((2, 7))
        b = np.empty(2, dtype=np.int64)
        buf = np.empty((k, k))
        for lane in range(_pair(seeds, g, samples, prm, exposures, xs, ys, d, b)):
            i = 2 * g + lane
            m = max(2, min(samples, int(round(d[lane, 6] * samples))))
            cx, cy, r = fit_half(xs[lane], ys[lane], m)
            scale = 1.0 if (r <= room or r == 0.0) else room / r
            buf[:] = 0.0
            splat_centred(xs[lane], ys[lane], m, cx, cy, scale, buf)
            total = buf.sum()
            for a in range(k):
                for c in range(k):
                    out[i, a, c] = buf[a, c] / total
            drawn[i] = d[lane]
            bigs[i] = b[lane]
            scales[i] = scale


def _root(seed: SeedLike) -> np.uint64:
    return np.uint64(as_generator(seed).integers(0, 2**63, dtype=np.int64))


def stream_seeds(seed: SeedLike, n: int, start: int = 0) -> np.ndarray:
    """The per-trajectory 64-bit seeds that ``sample_kernels(n, seed)`` uses (uint64, shape (n,))."""
    _check_n(n)
    return _seeds(_root(seed), int(start), int(n))


def _check_n(n: int) -> None:
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"n: must be a non-negative integer, got {n!r}")


def _check_seeds(seeds: np.ndarray | Sequence[int]) -> np.ndarray:
    arr = np.asarray(seeds)
    if arr.ndim != 1:
        raise ValueError(f"seeds: expected a 1-D sequence of integers, got shape {arr.shape}")
    if arr.size and (arr.dtype.kind not in "iu" or (arr.dtype.kind == "i" and (arr < 0).any())):
        raise ValueError("seeds: must be non-negative integers")
    return arr.astype(np.uint64)


@dataclass(frozen=True)
class Trajectories:
    """Sampled trajectories: ``positions`` (N, T, 2) in pixels, and what was drawn for each.

    ``drawn`` is (N, 7) in the order of :data:`DRAWN_FIELDS`; ``big_shakes`` counts impulsive shakes.
    """

    positions: np.ndarray
    drawn: np.ndarray
    big_shakes: np.ndarray

    def records(self) -> list[dict[str, float]]:
        return [_record(d, b) for d, b in zip(self.drawn, self.big_shakes, strict=True)]


def _record(d: np.ndarray, big: int, scale: float = 1.0) -> dict[str, float]:
    rec = {name: float(v) for name, v in zip(DRAWN_FIELDS, d, strict=True)}
    rec["big_shakes"] = int(big)
    rec["scale"] = float(scale)
    return rec


def sample_trajectories(
    n: int, seed: SeedLike, params: TrajectoryParams | None = None
) -> Trajectories:
    """Sample ``n`` camera-shake trajectories.

    >>> tr = sample_trajectories(2, seed=0)
    >>> tr.positions.shape
    (2, 2000, 2)
    >>> steps = np.linalg.norm(np.diff(tr.positions[0], axis=0), axis=1)
    >>> round(float(steps.sum()), 6)
    60.0
    """
    return trajectories_from_seeds(stream_seeds(seed, n), params)


def trajectories_from_seeds(
    seeds: np.ndarray | Sequence[int], params: TrajectoryParams | None = None
) -> Trajectories:
    """Trajectories for explicit per-trajectory 64-bit seeds (one trajectory per seed)."""
    p = params or TrajectoryParams()
    s = _check_seeds(seeds)
    pos, drawn, bigs = _positions(s, p.samples, p._packed(), np.asarray(p.exposure, dtype=np.float64))
    return Trajectories(pos, drawn, bigs)


@dataclass(frozen=True)
class KernelBatch:
    """Kernels (N, k, k) float32 (zero-padded to a common size), each kernel's own odd ``sizes``,
    and a record of what was drawn for each (regenerates it together with its ``seeds``)."""

    kernels: np.ndarray
    sizes: np.ndarray
    seeds: np.ndarray
    records: list[dict[str, float]]

    def kernel(self, i: int) -> np.ndarray:
        """Kernel ``i`` cropped to its own size."""
        k = self.kernels.shape[-1]
        h = (k - int(self.sizes[i])) // 2
        return self.kernels[i, h : k - h, h : k - h]

    def __len__(self) -> int:
        return int(self.kernels.shape[0])


def sample_kernels(
    n: int, seed: SeedLike, params: TrajectoryParams | None = None, size: int | None = None
) -> KernelBatch:
    """Sample ``n`` camera-shake PSFs (trajectory + sub-pixel rasterisation in one compiled pass).

    Args:
        n: number of kernels.
        seed: int seed or ``numpy.random.Generator``.
        params: the trajectory model's parameters (defaults: DeblurGAN's).
        size: odd kernel size; ``None`` fits each kernel to its trajectory (the batch is zero-padded
            to the largest; ``KernelBatch.kernel(i)`` crops one back).

    >>> kb = sample_kernels(4, seed=1, params=TrajectoryParams(length=(5, 20)))
    >>> kb.kernels.dtype, bool(abs(kb.kernels.sum(axis=(1, 2)) - 1).max() < 1e-6)
    (dtype('float32'), True)
    """
    return kernels_from_seeds(stream_seeds(seed, n), params, size)


def kernels_from_seeds(
    seeds: np.ndarray | Sequence[int], params: TrajectoryParams | None = None, size: int | None = None
) -> KernelBatch:
    """PSFs for explicit per-trajectory 64-bit seeds (what a manifest records to regenerate a kernel)."""
    p = params or TrajectoryParams()
    s = _check_seeds(seeds)
    prm = p._packed()
    exposures = np.asarray(p.exposure, dtype=np.float64)
    n = s.shape[0]
    if size is None:
        sizes = _fit_sizes(s, p.samples, prm, exposures) if n else np.zeros(0, dtype=np.int64)
        k = int(sizes.max()) if n else 3
    else:
        k = check_size(size)
        sizes = np.full(n, k, dtype=np.int64)
    out = np.empty((n, k, k), dtype=np.float32)
    drawn = np.empty((n, 7))
    bigs = np.empty(n, dtype=np.int64)
    scales = np.empty(n)
    if n:
        _raster(s, p.samples, prm, exposures, k, out, drawn, bigs, scales)
    records = [_record(drawn[i], int(bigs[i]), float(scales[i])) for i in range(n)]
    return KernelBatch(out, sizes, s, records)


__all__ = [
    "DRAWN_FIELDS",
    "KernelBatch",
    "Trajectories",
    "TrajectoryParams",
    "fit_scale",
    "kernels_from_seeds",
    "sample_kernels",
    "sample_trajectories",
    "stream_seeds",
    "trajectories_from_seeds",
]
