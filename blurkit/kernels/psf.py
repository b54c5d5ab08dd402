"""Point-spread functions: sub-pixel rasterisation, normalisation, centring, stacking.

Conventions for every kernel blurkit hands out (whatever its source):

* float32, square, odd size ``k``; the centre pixel is ``(k // 2, k // 2)``;
* non-negative, summing to 1 (accumulated in float64);
* centroid (first moment of the mass) at the centre, so a blurred image stays aligned with its sharp
  image (to a fraction of a pixel);
* support cropped to the mass: ``k`` is the smallest odd size that holds the mass around the centre
  (unless a size is imposed).

Trajectories are rasterised by bilinear splatting of their samples. Successive samples of a
2000-sample trajectory are ~0.03 px apart, so splatting the samples is indistinguishable from
integrating the continuous path, and bilinear splatting keeps the centroid exactly where the samples'
mean is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit


@njit(cache=True)
def fit_half(xs: np.ndarray, ys: np.ndarray, m: int) -> tuple[float, float, float]:
    """Mean of the first ``m`` samples and their largest axis-aligned distance from it."""
    cx = 0.0
    cy = 0.0
    for t in range(m):
        cx += xs[t]
        cy += ys[t]
    cx /= m
    cy /= m
    r = 0.0
    for t in range(m):
        dx = abs(xs[t] - cx)
        dy = abs(ys[t] - cy)
        if dx > r:
            r = dx
        if dy > r:
            r = dy
    return cx, cy, r


@njit(cache=True, inline="always")
def size_for_radius(r: float) -> int:
    """Smallest odd kernel size whose centre has room for a bilinear splat ``r`` px away."""
    return 2 * (int(math.ceil(r - 1e-9)) + 1) + 1


@njit(cache=True, inline="always")
def _flush(out: np.ndarray, x0: int, y0: int, a00: float, a01: float, a10: float, a11: float, w: float) -> None:
    k = out.shape[0]
    x1 = min(x0 + 1, k - 1)
    y1 = min(y0 + 1, k - 1)
    out[y0, x0] += w * a00
    out[y0, x1] += w * a01
    out[y1, x0] += w * a10
    out[y1, x1] += w * a11


@njit(cache=True)
def splat_centred(
    xs: np.ndarray, ys: np.ndarray, m: int, cx: float, cy: float, scale: float, out: np.ndarray
) -> tuple[int, int, int, int]:
    """Bilinearly splat the first ``m`` samples, moved so that their mean ``(cx, cy)`` lands on the
    centre of the square ``out`` and scaled about it by ``scale``; each sample carries mass ``1/m``.

    ``out`` is float64 and is accumulated into (zero it first). Consecutive samples of a trajectory
    mostly fall in the same pixel cell, so the four weights are summed in registers while the cell
    stays the same and added to ``out`` when it changes. Returns the rows and columns that received
    mass, ``(row0, row1, col0, col1)`` inclusive (nothing outside them was touched).
    """
    k = out.shape[0]
    c = (k - 1) / 2.0
    w = 1.0 / m
    cur_x = -1
    cur_y = -1
    a00 = 0.0
    a01 = 0.0
    a10 = 0.0
    a11 = 0.0
    lo_x = k
    hi_x = -1
    lo_y = k
    hi_y = -1
    for t in range(m):
        x = c + (xs[t] - cx) * scale
        y = c + (ys[t] - cy) * scale
        x0 = int(math.floor(x))
        y0 = int(math.floor(y))
        if x0 != cur_x or y0 != cur_y:
            if cur_x >= 0:
                _flush(out, cur_x, cur_y, a00, a01, a10, a11, w)
            cur_x = x0
            cur_y = y0
            lo_x = min(lo_x, x0)
            hi_x = max(hi_x, x0)
            lo_y = min(lo_y, y0)
            hi_y = max(hi_y, y0)
            a00 = 0.0
            a01 = 0.0
            a10 = 0.0
            a11 = 0.0
        fx = x - x0
        fy = y - y0
        a00 += (1.0 - fx) * (1.0 - fy)
        a01 += fx * (1.0 - fy)
        a10 += (1.0 - fx) * fy
        a11 += fx * fy
    if cur_x >= 0:
        _flush(out, cur_x, cur_y, a00, a01, a10, a11, w)
    return lo_y, min(hi_y + 1, k - 1), lo_x, min(hi_x + 1, k - 1)


def exposure_samples(n_samples: int, exposure: float) -> int:
    """Number of leading trajectory samples seen during an exposure fraction (at least 2)."""
    if not 0.0 < exposure <= 1.0:
        raise ValueError(f"exposure: fractions must be in (0, 1], got {exposure}")
    return max(2, min(n_samples, int(round(exposure * n_samples))))


def rasterize(
    positions: np.ndarray,
    exposure: float | Sequence[float] = 1.0,
    size: int | None = None,
) -> np.ndarray:
    """Rasterise trajectories into centred PSFs, one per exposure fraction.

    Args:
        positions: (T, 2) or (N, T, 2) sample positions (x, y) in pixels.
        exposure: a fraction in (0, 1] or a sequence of them; the PSF of fraction ``f`` integrates the
            first ``f·T`` samples (DeblurGAN uses 1/100, 1/10, 1/2 and 1).
        size: odd kernel size; ``None`` fits the smallest size that holds every PSF of the batch.
            Trajectories too large for an imposed size are shrunk about their centroid to fit.

    Returns:
        float32 array (N, E, k, k) (N and E dropped when the inputs were scalar / 2-D).

    >>> t = np.stack([np.linspace(0, 10, 200), np.zeros(200)], axis=1)
    >>> k = rasterize(t)
    >>> k.shape, round(float(k.sum()), 6)
    ((13, 13), 1.0)
    """
    pos = np.asarray(positions, dtype=np.float64)
    single = pos.ndim == 2
    if single:
        pos = pos[None]
    if pos.ndim != 3 or pos.shape[2] != 2 or pos.shape[1] < 2:
        raise ValueError(f"positions: expected shape (T, 2) or (N, T, 2) with T >= 2, got {np.shape(positions)}")
    if not np.isfinite(pos).all():
        raise ValueError("positions: contains NaN or infinite values")
    scalar_exposure = np.isscalar(exposure)
    fractions = [float(exposure)] if scalar_exposure else [float(f) for f in exposure]  # type: ignore[arg-type,union-attr]
    if not fractions:
        raise ValueError("exposure: at least one fraction is required")
    counts = [exposure_samples(pos.shape[1], f) for f in fractions]
    n, e = pos.shape[0], len(fractions)
    fits = np.empty((n, e, 3))
    for i in range(n):
        for j, m in enumerate(counts):
            fits[i, j] = fit_half(pos[i, :, 0], pos[i, :, 1], m)
    if size is None:
        k = max(size_for_radius(float(r)) for r in fits[:, :, 2].ravel())
    else:
        k = check_size(size)
    out = np.zeros((n, e, k, k), dtype=np.float32)
    buf = np.zeros((k, k), dtype=np.float64)
    for i in range(n):
        for j, m in enumerate(counts):
            cx, cy, r = fits[i, j]
            scale = fit_scale(r, k)
            buf[:] = 0.0
            splat_centred(pos[i, :, 0], pos[i, :, 1], m, cx, cy, scale, buf)
            out[i, j] = buf / buf.sum()
    if scalar_exposure:
        out = out[:, 0]
    return out[0] if single else out


def fit_scale(r: float, k: int) -> float:
    """Scale that shrinks a trajectory of half-extent ``r`` into an imposed size ``k`` (1 if it fits)."""
    room = (k - 1) / 2.0 - 1.0
    return 1.0 if r <= room or r == 0.0 else room / r


def check_size(size: int) -> int:
    if isinstance(size, bool) or int(size) != size or size < 3 or size % 2 == 0:
        raise ValueError(f"size: kernel size must be an odd integer >= 3, got {size!r}")
    return int(size)


def centroid(kernel: np.ndarray) -> tuple[float, float]:
    """Centroid ``(x, y)`` of a kernel's mass, in pixels from the top-left corner."""
    k = np.asarray(kernel, dtype=np.float64)
    total = k.sum()
    ys, xs = np.indices(k.shape)
    return float((xs * k).sum() / total), float((ys * k).sum() / total)


def normalize_kernel(kernel: np.ndarray, name: str = "kernel", size: int | None = None) -> np.ndarray:
    """Make any 2-D kernel follow blurkit's conventions (non-negative, sum 1, centred, odd, cropped).

    Negative values (ringing from estimation) are clipped to zero. The centroid is moved to the centre
    by an integer shift plus a bilinear sub-pixel shift (which preserves mass and moves the centroid
    exactly). ``name`` names the kernel in error messages (e.g. the bank file and index).

    >>> k = np.zeros((4, 6)); k[1, 4] = 2.0
    >>> n = normalize_kernel(k)
    >>> n.shape, float(n[n.shape[0] // 2, n.shape[1] // 2])  # one pixel: cropped to its support
    ((1, 1), 1.0)
    """
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D kernel, got shape {k.shape}")
    if not np.isfinite(k).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    k = np.clip(k, 0.0, None)
    total = k.sum()
    if total <= 0.0:
        raise ValueError(f"{name}: has no positive mass (all values <= 0)")
    ys, xs = np.nonzero(k)
    w = k[ys, xs] / total
    cx = float((xs * w).sum())
    cy = float((ys * w).sum())
    r = float(max(np.abs(xs - cx).max(), np.abs(ys - cy).max()))
    ksize = size_for_radius(r) if size is None else check_size(size)
    buf = np.zeros((ksize, ksize), dtype=np.float64)
    # Each pixel is a weighted sample; splatting them centred moves the centroid onto the centre.
    _splat_weighted(xs.astype(np.float64), ys.astype(np.float64), w, cx, cy, fit_scale(r, ksize), buf)
    out = _crop_to_mass(buf) if size is None else buf
    return (out / out.sum()).astype(np.float32)


@njit(cache=True)
def _splat_weighted(
    xs: np.ndarray, ys: np.ndarray, w: np.ndarray, cx: float, cy: float, scale: float, out: np.ndarray
) -> None:
    k = out.shape[0]
    c = (k - 1) / 2.0
    for t in range(xs.shape[0]):
        x = c + (xs[t] - cx) * scale
        y = c + (ys[t] - cy) * scale
        x0 = int(math.floor(x))
        y0 = int(math.floor(y))
        fx = x - x0
        fy = y - y0
        x1 = min(x0 + 1, k - 1)
        y1 = min(y0 + 1, k - 1)
        out[y0, x0] += w[t] * (1.0 - fx) * (1.0 - fy)
        out[y0, x1] += w[t] * fx * (1.0 - fy)
        out[y1, x0] += w[t] * (1.0 - fx) * fy
        out[y1, x1] += w[t] * fx * fy


def _crop_to_mass(k: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """Crop a centred kernel symmetrically to the smallest odd square holding all its mass."""
    c = k.shape[0] // 2
    ys, xs = np.nonzero(k > eps)
    h = int(max(np.abs(ys - c).max(), np.abs(xs - c).max()))
    return k[c - h : c + h + 1, c - h : c + h + 1]


def kernel_support(kernel: np.ndarray) -> int:
    """Half-size of the smallest centred square holding the kernel's mass (0 for a delta)."""
    k = np.asarray(kernel)
    c = k.shape[-1] // 2
    ys, xs = np.nonzero(k > 0)
    if ys.size == 0:
        return 0
    return int(max(np.abs(ys - c).max(), np.abs(xs - c).max()))


def pad_kernel(kernel: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad a centred odd kernel to a larger odd ``size`` (the centre stays the centre)."""
    k = np.asarray(kernel)
    n = k.shape[-1]
    if size < n or (size - n) % 2:
        raise ValueError(f"size: cannot pad a {n}x{n} kernel to {size}x{size}")
    p = (size - n) // 2
    return np.pad(k, [(0, 0)] * (k.ndim - 2) + [(p, p), (p, p)])


def stack_kernels(kernels: Sequence[np.ndarray]) -> np.ndarray:
    """Stack centred odd kernels of different sizes into one (N, k, k) array (zero-padded to the largest).

    >>> stack_kernels([np.ones((1, 1)), np.full((3, 3), 1 / 9)]).shape
    (2, 3, 3)
    """
    if len(kernels) == 0:
        raise ValueError("kernels: at least one kernel is required")
    for i, k in enumerate(kernels):
        if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] % 2 == 0:
            raise ValueError(f"kernels[{i}]: expected an odd square 2-D kernel, got shape {k.shape}")
    size = max(k.shape[0] for k in kernels)
    return np.stack([pad_kernel(k, size) for k in kernels]).astype(np.float32)
