"""CPU kernels for the Köhler protocol (Numba loops over uint8 frames, SciPy FFTs).

The per-frame work of :func:`blurkit.metrics.kohler.kohler_psnr` on a CPU: one pass over each uint8
frame for the scale numerator and the channel mean, a batched real FFT cross-correlation, and one
pass for the shifted, masked luma error. See ``kohler.py`` for the protocol.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.fft

from blurkit._threads import pool, usable_cpus

LUMA_R, LUMA_G, LUMA_B = 0.299, 0.587, 0.114


@numba.njit(nogil=True, cache=True)
def frame_stats(frame, z, mean_out, offset):  # type: ignore[no-untyped-def]
    """Σ x·z of one uint8 frame (H, W, 3), exact in float64, and its channel mean minus ``offset``
    into ``mean_out`` (float32)."""
    h, w = frame.shape[0], frame.shape[1]
    acc = 0.0
    third = np.float32(1.0 / 3.0)
    for i in range(h):
        row = 0.0
        for j in range(w):
            a = np.float64(frame[i, j, 0])
            b = np.float64(frame[i, j, 1])
            d = np.float64(frame[i, j, 2])
            row += a * z[i, j, 0] + b * z[i, j, 1] + d * z[i, j, 2]
            mean_out[i, j] = np.float32(a + b + d) * third - offset
        acc += row
    return acc


@numba.njit(nogil=True, cache=True)
def shifted_luma_sse(frame, yz, alpha, dr, dc):  # type: ignore[no-untyped-def]
    """Σ over the valid region of (luma(frame)(i) − α·yz(i − t))², t = (dr, dc); float64."""
    h, w = yz.shape
    r0, r1 = max(dr, 0), h + min(dr, 0)
    c0, c1 = max(dc, 0), w + min(dc, 0)
    if r1 <= r0 or c1 <= c0:
        return 0.0
    rows = np.zeros(r1 - r0)
    for i in range(r0, r1):
        acc = 0.0
        for j in range(c0, c1):
            yx = LUMA_R * frame[i, j, 0] + LUMA_G * frame[i, j, 1] + LUMA_B * frame[i, j, 2]
            d = yx - alpha * yz[i - dr, j - dc]
            acc += d * d
        rows[i - r0] = acc
    return rows.sum()


@numba.njit(nogil=True, cache=True)
def first_max_column_major(cc):  # type: ignore[no-untyped-def]
    """(row, col) of the maximum of a row-major (H, W) array; ties go to the smallest column, then
    row, i.e. the first maximum in column-major order as MATLAB's ``max`` finds it."""
    h, w = cc.shape
    best = cc[0, 0]
    br = 0
    bc = 0
    for i in range(h):
        for j in range(w):
            v = cc[i, j]
            if v > best or (v == best and (j < bc or (j == bc and i < br))):
                best = v
                br = i
                bc = j
    return br, bc


def registration_peaks(means: np.ndarray, zc_fft_conj: np.ndarray) -> np.ndarray:
    """Integer (row, col) shift per frame from the circular cross-correlation peak.

    ``means`` (n, H, W) float32 channel means of the frames (shifted by any constant);
    ``zc_fft_conj`` the conjugate real FFT of the prediction's mean-centred channel mean. Both
    images are non-negative, so their correlation is too and the maximum of its magnitude is its
    maximum; centring one image only subtracts a constant from the correlation (and makes any
    constant offset of the other irrelevant), which keeps float32 precise. Ties go to the first
    maximum in column-major order, like MATLAB's ``max``.
    """
    n, h, w = means.shape
    workers = usable_cpus()
    spec = scipy.fft.rfft2(means, workers=workers)
    spec *= zc_fft_conj
    cc = scipy.fft.irfft2(spec, s=(h, w), workers=workers, overwrite_x=True)
    peaks = np.array(list(pool().map(first_max_column_major, cc)), dtype=np.int64).reshape(n, 2)
    row, col = peaks[:, 0], peaks[:, 1]
    row = np.where(row >= h // 2, row - h, row)
    col = np.where(col >= w // 2, col - w, col)
    return np.stack([row, col], axis=1)
