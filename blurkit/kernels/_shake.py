"""Compiled kernels of the camera-shake model: the Markov walk, its fit and its sub-pixel raster.

Each trajectory is driven by its own xoshiro256** stream seeded from its 64-bit seed, so its samples
do not depend on which other trajectories are computed, in which order or on how many threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from blurkit.kernels import _prng
from blurkit.kernels.psf import fit_half, size_for_radius, splat_centred


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


@njit(cache=True, nogil=True)
def positions_block(  # type: ignore[no-untyped-def]
    seeds, lo, hi, samples, prm, exposures, pos, drawn, bigs
):
    """Trajectories ``lo..hi`` (walked two at a time) into ``pos`` (N, T, 2), ``drawn`` and ``bigs``."""
    xs = np.empty((2, samples))
    ys = np.empty((2, samples))
    d = np.empty((2, 7))
    b = np.empty(2, dtype=np.int64)
    for g in range(lo // 2, (hi + 1) // 2):
        for lane in range(_pair(seeds, g, samples, prm, exposures, xs, ys, d, b)):
            i = 2 * g + lane
            for t in range(samples):
                pos[i, t, 0] = xs[lane, t]
                pos[i, t, 1] = ys[lane, t]
            for q in range(7):
                drawn[i, q] = d[lane, q]
            bigs[i] = b[lane]


@njit(cache=True, nogil=True)
def _render(xs, ys, m, cx, cy, r, buf, out):  # type: ignore[no-untyped-def]
    """Rasterise the first ``m`` samples into ``out`` (k, k) float32, centred on their mean
    ``(cx, cy)``, shrunk to fit if their half-extent ``r`` needs it, normalised to sum 1 (float64
    accumulation in ``buf``, at least k x k, all zero on entry and again on return); returns the scale.

    Only the rows and columns the splat reached are summed, divided and cleared: everything else is
    an exact zero, and skipping zeros changes neither the row-major float64 sum nor any quotient, so
    the kernel has the same bits as a pass over the whole canvas."""
    k = out.shape[0]
    room = (k - 1) / 2.0 - 1.0
    scale = 1.0 if (r <= room or r == 0.0) else room / r
    acc = buf[:k, :k]
    r0, r1, c0, c1 = splat_centred(xs, ys, m, cx, cy, scale, acc)
    total = 0.0
    for a in range(r0, r1 + 1):
        for c in range(c0, c1 + 1):
            total += acc[a, c]
    out[:, :] = 0.0
    for a in range(r0, r1 + 1):
        for c in range(c0, c1 + 1):
            out[a, c] = acc[a, c] / total
            acc[a, c] = 0.0
    return scale


@njit(cache=True, nogil=True)
def kernels_block(  # type: ignore[no-untyped-def]
    seeds, lo, hi, samples, prm, exposures, k, out, drawn, bigs, scales, sizes
):
    """Kernels ``lo..hi`` (``lo`` even; walked two at a time). With ``k == 0`` only the fitted odd
    size of each goes into ``sizes``; otherwise each is rasterised into ``out[i]`` (k, k), shrunk to
    fit if needed, with its drawn values, big-shake count and scale."""
    xs = np.empty((2, samples))
    ys = np.empty((2, samples))
    d = np.empty((2, 7))
    b = np.empty(2, dtype=np.int64)
    buf = np.zeros((max(k, 1), max(k, 1)))
    for g in range(lo // 2, (hi + 1) // 2):
        for lane in range(_pair(seeds, g, samples, prm, exposures, xs, ys, d, b)):
            i = 2 * g + lane
            m = max(2, min(samples, int(round(d[lane, 6] * samples))))
            cx, cy, r = fit_half(xs[lane], ys[lane], m)
            if k == 0:
                sizes[i] = size_for_radius(r)
                continue
            scales[i] = _render(xs[lane], ys[lane], m, cx, cy, r, buf, out[i])
            for q in range(7):
                drawn[i, q] = d[lane, q]
            bigs[i] = b[lane]


@njit(cache=True, nogil=True)
def one_kernel(seed, samples, prm, exposures, size, drawn):  # type: ignore[no-untyped-def]
    """One kernel from its seed in a single walk: fitted to its own size when ``size == 0``, else
    rasterised at ``size``; returns ``(kernel, big shakes, scale)`` and fills ``drawn``."""
    s = _prng.new_state(seed)
    _draw(s, prm, exposures, drawn)
    xs = np.empty(samples)
    ys = np.empty(samples)
    big = _walk(s, drawn, xs, ys)
    m = max(2, min(samples, int(round(drawn[6] * samples))))
    cx, cy, r = fit_half(xs, ys, m)
    k = size_for_radius(r) if size == 0 else size
    out = np.empty((k, k), dtype=np.float32)
    scale = _render(xs, ys, m, cx, cy, r, np.zeros((k, k)), out)
    return out, big, scale
