"""CPU kernels for SSIM: Numba loops around OpenCV's separable Gaussian filter.

On a CPU, torch's convolution of 1-D 11-tap kernels and its elementwise kernels are several times
slower than OpenCV's ``sepFilter2D`` and a fused Numba loop, so the CPU path of
:func:`blurkit.metrics.ssim.ssim_values` runs here. Images are (H, W, C) float32/float64 arrays on
the 0..255 scale.
"""

from __future__ import annotations

import cv2
import numba
import numpy as np

from blurkit._threads import pool as _pool
from blurkit._threads import usable_cpus

PEAK = 255.0
C1 = (0.01 * PEAK) ** 2
C2 = (0.03 * PEAK) ** 2


@numba.njit(nogil=True, cache=True)
def _sum_diff_products(x, y, s, d, ss, dd):  # type: ignore[no-untyped-def]
    """s = x + y − 255, d = x − y and their squares, in one pass (x, y uint8 or float, C-contiguous;
    outputs float, same shape). One flat loop over the elements, so that the compiler vectorises it."""
    n = x.size
    xf = x.reshape(n)
    yf = y.reshape(n)
    so = s.reshape(n)
    do = d.reshape(n)
    sso = ss.reshape(n)
    ddo = dd.reshape(n)
    for i in range(n):
        a = np.float64(xf[i])
        b = np.float64(yf[i])
        sv = a + b - 255.0
        dv = a - b
        so[i] = sv
        do[i] = dv
        sso[i] = sv * sv
        ddo[i] = dv * dv


@numba.njit(nogil=True, cache=True, inline="always")
def _ssim_term(a0, a1, a2, a3):  # type: ignore[no-untyped-def]
    """SSIM at one pixel from the filtered sum-minus-255 (a0), difference (a1) and their squares."""
    mu_s = a0 + 255.0
    var_s = a2 - a0 * a0
    var_d = a3 - a1 * a1
    ms = mu_s * mu_s
    md = a1 * a1
    num = (0.5 * (ms - md) + C1) * (0.5 * (var_s - var_d) + C2)
    den = (0.5 * (ms + md) + C1) * (0.5 * (var_s + var_d) + C2)
    return num / den


@numba.njit(nogil=True, cache=True)
def _map_sum(f0, f1, f2, f3, mix):  # type: ignore[no-untyped-def]
    """Σ of the SSIM map over pixels and channels (float64), mixing channels with ``mix`` (C×C)."""
    h, w, c = f0.shape
    rows = np.zeros(h)
    for i in range(h):
        acc = 0.0
        for j in range(w):
            for k in range(c):
                a0 = 0.0
                a1 = 0.0
                a2 = 0.0
                a3 = 0.0
                for q in range(c):
                    m = mix[k, q]
                    a0 += m * f0[i, j, q]
                    a1 += m * f1[i, j, q]
                    a2 += m * f2[i, j, q]
                    a3 += m * f3[i, j, q]
                acc += _ssim_term(a0, a1, a2, a3)
        rows[i] = acc
    return rows.sum()


@numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def _map_sum_flat(f0, f1, f2, f3, q0, q1):  # type: ignore[no-untyped-def]
    """Σ of the SSIM map (float64) over rows of (rows, W·C) planes, elements ``q0..q1`` of each row,
    each channel on its own (a vectorised sum: the order of the additions is the compiler's)."""
    total = 0.0
    for i in range(f0.shape[0]):
        acc = 0.0
        for q in range(q0, q1):
            acc += _ssim_term(np.float64(f0[i, q]), np.float64(f1[i, q]), np.float64(f2[i, q]), np.float64(f3[i, q]))
        total += acc
    return total


@numba.njit(nogil=True, cache=True, fastmath={"reassoc"})
def squared_error_sum_u8(x, y):  # type: ignore[no-untyped-def]
    """Σ (x − y)² per item of (N, ...) uint8 batches, exactly (integer sums, any order gives the same)."""
    n = x.shape[0]
    xf = x.reshape(n, -1)
    yf = y.reshape(n, -1)
    out = np.zeros(n)
    for b in range(n):
        acc = 0
        for i in range(xf.shape[1]):
            d = np.int64(xf[b, i]) - np.int64(yf[b, i])
            acc += d * d
        out[b] = float(acc)
    return out


@numba.njit(nogil=True, cache=True)
def squared_error_sum(x, y):  # type: ignore[no-untyped-def]
    """Σ (x − y)² over an (N, ...) batch, per item, accumulated in float64."""
    n = x.shape[0]
    xf = x.reshape(n, -1)
    yf = y.reshape(n, -1)
    m = xf.shape[1]
    out = np.zeros(n)
    for b in range(n):
        chunks = 64
        step = (m + chunks - 1) // chunks
        part = np.zeros(chunks)
        for t in range(chunks):
            acc = 0.0
            for i in range(t * step, min(m, (t + 1) * step)):
                d = np.float64(xf[b, i]) - np.float64(yf[b, i])
                acc += d * d
            part[t] = acc
        out[b] = part.sum()
    return out


def _filter(img: np.ndarray, taps: np.ndarray, replicate: bool) -> np.ndarray:
    border = cv2.BORDER_REPLICATE if replicate else cv2.BORDER_REFLECT
    c = img.shape[2]
    if c <= 4:
        return cv2.sepFilter2D(img, -1, taps, taps, borderType=border).reshape(img.shape)
    return np.stack([cv2.sepFilter2D(img[:, :, k], -1, taps, taps, borderType=border) for k in range(c)], axis=2)


def ssim_mean_hwc(
    x: np.ndarray, y: np.ndarray, taps: np.ndarray, mix: np.ndarray, replicate: bool, dtype: type = np.float32
) -> float:
    """Mean SSIM of one (H, W, C) pair.

    The rows of the SSIM map are cut into blocks scored in parallel threads; each block reads the
    rows it needs plus a halo of the window radius, so the result does not depend on the cut.

    Args:
        x: first image on 0..255: uint8, float32 or float64.
        y: second image, same shape and dtype.
        taps: the 1-D Gaussian (2r + 1 taps).
        mix: (C, C) channel filter (identity for per-channel SSIM).
        replicate: MATLAB-style replicate padding (same-size map) instead of skimage's cropped map.
        dtype: filter arithmetic, ``np.float32`` or ``np.float64``.
    """
    r = (len(taps) - 1) // 2
    x = np.ascontiguousarray(x)
    y = np.ascontiguousarray(y)
    h, w, c = x.shape
    taps = taps.astype(dtype)
    per_channel = bool(np.array_equal(mix, np.eye(c)))
    mix64 = np.ascontiguousarray(mix, dtype=np.float64)
    lo, hi = (0, h) if replicate else (r, h - r)
    cols = slice(0, w) if replicate else slice(r, w - r)
    n_blocks = max(1, min(hi - lo, 4 * usable_cpus()))  # blocks small enough to stay in the caches
    bounds = np.linspace(lo, hi, n_blocks + 1).round().astype(int)

    def block(o0: int, o1: int) -> float:
        i0, i1 = max(0, o0 - r), min(h, o1 + r)
        planes = [np.empty((i1 - i0, w, c), dtype=dtype) for _ in range(4)]
        _sum_diff_products(x[i0:i1], y[i0:i1], *planes)
        full = [_filter(p, taps, replicate)[o0 - i0 : o1 - i0] for p in planes]
        if per_channel:
            flat = [f.reshape(o1 - o0, w * c) for f in full]
            return float(_map_sum_flat(flat[0], flat[1], flat[2], flat[3], cols.start * c, cols.stop * c))
        f = [p[:, cols.start : cols.stop] for p in full]
        return float(_map_sum(f[0], f[1], f[2], f[3], mix64))

    total = sum(_pool().map(block, bounds[:-1].tolist(), bounds[1:].tolist()))
    n = (hi - lo) * (w if replicate else w - 2 * r) * c
    return total / n
