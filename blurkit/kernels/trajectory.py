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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from blurkit._rng import SeedLike, as_generator
from blurkit.kernels import _shake
from blurkit.kernels.params import TrajectoryParams
from blurkit.kernels.psf import check_size, fit_scale

#: Order of the per-trajectory drawn values in ``drawn`` arrays and records.
DRAWN_FIELDS = ("length", "anxiety", "centripetal", "big_shake", "gaussian_shake", "angle", "exposure")


def _root(seed: SeedLike) -> np.uint64:
    return np.uint64(as_generator(seed).integers(0, 2**63, dtype=np.int64))


def stream_seeds(seed: SeedLike, n: int, start: int = 0) -> np.ndarray:
    """The per-trajectory 64-bit seeds that ``sample_kernels(n, seed)`` uses (uint64, shape (n,))."""
    from blurkit import _jit

    _check_n(n)
    args = (_root(seed), int(start), int(n))
    return _shake._seeds(*args) if _jit.use_compiled(_shake._seeds) else _jit.call_pure(_shake._seeds, *args)


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


def _record(d: np.ndarray | list[float], big: int, scale: float = 1.0) -> dict[str, float]:
    rec = {name: float(v) for name, v in zip(DRAWN_FIELDS, d, strict=True)}
    rec["big_shakes"] = int(big)
    rec["scale"] = float(scale)
    return rec


def _records(drawn: np.ndarray, bigs: np.ndarray, scales: np.ndarray) -> list[dict[str, float]]:
    """``_record`` of every row, fed Python lists (indexing the arrays row by row, with its NumPy
    scalars, costs more than the kernels themselves at tens of thousands of kernels)."""
    return [_record(d, b, sc) for d, b, sc in zip(drawn.tolist(), bigs.tolist(), scales.tolist(), strict=True)]


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
    prm, exposures, n = p._packed(), np.asarray(p.exposure, dtype=np.float64), s.shape[0]
    pos = np.empty((n, p.samples, 2))
    drawn = np.empty((n, 7))
    bigs = np.empty(n, dtype=np.int64)
    _in_blocks(_shake.positions_block, n, lambda lo, hi: (s, lo, hi, p.samples, prm, exposures, pos, drawn, bigs))
    return Trajectories(pos, drawn, bigs)


#: Trajectories per block of compiled work (even: trajectories are walked two at a time).
BLOCK = 64


def _one(
    seed: np.uint64, samples: int, prm: np.ndarray, exposures: np.ndarray, size: int, drawn: np.ndarray,
    bigs: np.ndarray, scales: np.ndarray,
) -> np.ndarray:
    """One kernel (1, k, k) through :func:`blurkit.kernels._shake.one_kernel`, compiled or plain."""
    from blurkit import _jit

    args = (seed, samples, prm, exposures, size, drawn)
    fn = _shake.one_kernel
    kernel, bigs[0], scales[0] = fn(*args) if _jit.use_compiled(fn) else _jit.call_pure(fn, *args)
    return kernel[None]


def _in_blocks(kernel: Any, n: int, args: Callable[[int, int], tuple[Any, ...]]) -> None:
    """Call the compiled ``kernel(*args(lo, hi))`` over blocks of ``range(n)`` on up to
    ``numba.get_num_threads()`` threads, or its plain-Python twin while compiling is not worth it
    yet (:mod:`blurkit._jit`). Every trajectory comes from its own seed: the cut, the thread count
    and the tier change nothing."""
    import numba

    from blurkit import _jit
    from blurkit._threads import run_blocks

    if _jit.use_compiled(kernel):
        run_blocks(lambda lo, hi: kernel(*args(lo, hi)), n, BLOCK, numba.get_num_threads())
    else:
        run_blocks(lambda lo, hi: _jit.call_pure(kernel, *args(lo, hi)), n, BLOCK, 1)


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
    drawn = np.empty((n, 7))
    bigs = np.empty(n, dtype=np.int64)
    scales = np.empty(n)
    sizes = np.zeros(n, dtype=np.int64)
    if n == 1:  # one walk: fit and raster together
        out = _one(s[0], p.samples, prm, exposures, 0 if size is None else check_size(size), drawn[0], bigs, scales)
        sizes[0] = out.shape[-1]
        return KernelBatch(out, sizes, s, [_record(drawn[0], int(bigs[0]), float(scales[0]))])

    def run(k: int, out: np.ndarray) -> None:
        _in_blocks(_shake.kernels_block, n, lambda lo, hi: (
            s, lo, hi, p.samples, prm, exposures, k, out, drawn, bigs, scales, sizes
        ))

    if size is None:
        run(0, np.empty((1, 1, 1), dtype=np.float32))  # fitted sizes first: the batch shares the largest
        k = int(sizes.max()) if n else 3
    else:
        k = check_size(size)
        sizes[:] = k
    out = np.empty((n, k, k), dtype=np.float32)
    run(k, out)
    return KernelBatch(out, sizes, s, _records(drawn, bigs, scales))


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
