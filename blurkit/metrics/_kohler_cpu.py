"""CPU kernels for the Köhler protocol (Numba loops over uint8 frames, SciPy FFTs).

The per-frame work of :func:`blurkit.metrics.kohler.kohler_psnr` on a CPU: one pass over each uint8
frame for the scale numerator and the channel mean, a batched real FFT cross-correlation, and one
pass for the shifted, masked luma error. See ``kohler.py`` for the protocol.
"""

from __future__ import annotations

import os

import numba
import numpy as np
import scipy.fft

LUMA_R, LUMA_G, LUMA_B = 0.299, 0.587, 0.114


@numba.njit(parallel=True, cache=True)
def frame_stats(frames, z):  # type: ignore[no-untyped-def]
    """Σ x·z (exact, int64) and the channel mean (float32) of each uint8 frame (n, H, W, 3)."""
    n, h, w, c = frames.shape
    dots = np.zeros(n, dtype=np.int64)
    means = np.empty((n, h, w), dtype=np.float32)
    for f in range(n):
        rows = np.zeros(h, dtype=np.int64)
        for i in numba.prange(h):
            acc = 0
            for j in range(w):
                s = 0
                for k in range(c):
                    v = np.int64(frames[f, i, j, k])
                    acc += v * np.int64(z[i, j, k])
                    s += v
                means[f, i, j] = np.float32(s / c)
            rows[i] = acc
        dots[f] = rows.sum()
    return dots, means


@numba.njit(parallel=True, cache=True)
def shifted_luma_sse(frame, yz, alpha, dr, dc):  # type: ignore[no-untyped-def]
    """Σ over the valid region of (luma(frame)(i) − α·yz(i − t))², t = (dr, dc); float64."""
    h, w = yz.shape
    r0, r1 = max(dr, 0), h + min(dr, 0)
    c0, c1 = max(dc, 0), w + min(dc, 0)
    if r1 <= r0 or c1 <= c0:
        return 0.0
    rows = np.zeros(r1 - r0)
    for i in numba.prange(r0, r1):
        acc = 0.0
        for j in range(c0, c1):
            yx = LUMA_R * frame[i, j, 0] + LUMA_G * frame[i, j, 1] + LUMA_B * frame[i, j, 2]
            d = yx - alpha * yz[i - dr, j - dc]
            acc += d * d
        rows[i - r0] = acc
    return rows.sum()


def registration_peaks(means: np.ndarray, zc_fft_conj: np.ndarray) -> np.ndarray:
    """Integer (row, col) shift per frame from the circular cross-correlation peak.

    ``means`` (n, H, W) float32 channel means of the frames; ``zc_fft_conj`` the conjugate real FFT
    of the prediction's centred channel mean. Both images are non-negative, so the correlation is too
    and the maximum of its magnitude is its maximum; removing the means only subtracts a constant
    and keeps float32 precise. Ties go to the first maximum in column-major order, like MATLAB's max.
    """
    n, h, w = means.shape
    centred = means - means.mean(axis=(1, 2), keepdims=True, dtype=np.float64).astype(np.float32)
    workers = os.cpu_count() or 1
    spec = scipy.fft.rfft2(centred, workers=workers)
    spec *= zc_fft_conj
    cc = scipy.fft.irfft2(spec, s=(h, w), workers=workers)
    idx = cc.transpose(0, 2, 1).reshape(n, -1).argmax(axis=1)
    col, row = idx // h, idx % h
    row = np.where(row >= h // 2, row - h, row)
    col = np.where(col >= w // 2, col - w, col)
    return np.stack([row, col], axis=1)
