"""Compiled CPU kernels of chain 2: linear light + highlight boost, then noise + display values.

Two kernels, each run over blocks of rows (``nogil``, so the blocks run in parallel threads):

* :func:`linearise_rows` reads display values (float32 planes, or 8-bit (H, W, 3) pixels), looks up
  the linear value of 8-bit levels in a 256-entry table (other values: the float64 curve, rounded
  once) and raises highlights by the record's boost;
* :func:`finish_rows` reads the blurred linear planes, clips them to the sensor's range, adds
  Poisson–Gaussian noise, clips again and writes display values (float32 planes, or 8-bit pixels
  rounded as :func:`blurkit.io.to_uint` rounds).

Noise is drawn from a counter-based generator: element ``e`` (its index in the (3, H, W) planes)
draws from its own SplitMix64 stream seeded by ``(noise_seed, e)``, so the bytes are a function of
the seed alone, whatever the number of threads or the cut into blocks. Shot noise is an exact
Poisson draw below :data:`blurkit.ops.noise.EXACT_POISSON_BELOW` expected photons (table inversion
of Poisson(⌊λ⌋) plus a thinned Poisson(1) count for λ − ⌊λ⌋) and a normal draw with the Poisson
variance above it; where both shot and read noise are normal they are drawn as one normal with the
summed variance.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from blurkit.kernels._prng import _ZR, _ZTAIL, _ZX, _mix64
from blurkit.ops.noise import GUIDE_BUCKETS

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SALT = np.uint64(0xD1B54A32D192ED03)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53
_GUIDE = GUIDE_BUCKETS


@njit(cache=True, nogil=True)
def _curve_to_linear(x: float, kind: int, g: float) -> float:
    if kind == 0:
        return x
    x = min(max(x, 0.0), 1.0)
    if kind == 2:
        return x**g
    return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4


@njit(cache=True, nogil=True)
def _curve_to_display(x: float, kind: int, g: float) -> float:
    if kind == 0:
        return x
    if kind == 2:
        return x ** (1.0 / g)
    return x * 12.92 if x <= 0.0031308 else 1.055 * x ** (1.0 / 2.4) - 0.055


@njit(cache=True, nogil=True)
def linearise_rows(  # type: ignore[no-untyped-def]
    src, src8, use8, table, grid, kind, g, gain, thr, ramp, out, r0, r1
):
    """Rows ``r0..r1`` of ``out`` (3, H, W) float32: linear light of ``src`` (3, H, W) float32, or of
    ``src8`` (H, W, 3) uint8 when ``use8``, times ``1 + gain · mask`` (``mask``: channel >= ``thr``,
    or with ``ramp`` the luminance ramp of chain 1's ``ramp`` model)."""
    w = out.shape[2]
    px = np.empty(3, dtype=np.float64)
    for i in range(r0, r1):
        for j in range(w):
            for c in range(3):
                if use8:
                    px[c] = table[src8[i, j, c]]
                else:
                    v = src[c, i, j]
                    k = int(v * 255.0 + 0.5) if 0.0 <= v <= 1.0 else 0
                    if grid[k] == v:
                        px[c] = table[k]
                    else:
                        px[c] = np.float32(_curve_to_linear(np.float64(v), kind, g))
            if gain == 0.0:
                for c in range(3):
                    out[c, i, j] = px[c]
            elif ramp:
                lum = 0.2126 * px[0] + 0.7152 * px[1] + 0.0722 * px[2]
                m = min(max((lum - thr) / (1.0 - thr), 0.0), 1.0)
                for c in range(3):
                    out[c, i, j] = px[c] * (1.0 + gain * m)
            else:
                for c in range(3):
                    out[c, i, j] = px[c] * (1.0 + gain) if px[c] >= thr else px[c]


@njit(cache=True, nogil=True)
def _bits(state):  # type: ignore[no-untyped-def]
    """The next 64 random bits of an element's SplitMix64 stream, and the advanced state."""
    state = state + _GOLDEN
    return _mix64(state), state


@njit(cache=True, nogil=True)
def _uniform(state):  # type: ignore[no-untyped-def]
    b, state = _bits(state)
    return float(np.int64(b >> np.uint64(11))) * _INV53, state


@njit(cache=True, nogil=True)
def _normal_rare(state, i, u):  # type: ignore[no-untyped-def]
    """The ziggurat's rare paths (base tail and wedges), drawing further values from the stream."""
    while True:
        if i == 0:
            while True:
                a, state = _uniform(state)
                b, state = _uniform(state)
                x = -math.log(1.0 - a) / _ZTAIL
                if -2.0 * math.log(1.0 - b) >= x * x:
                    return (_ZTAIL + x if u > 0.0 else -(_ZTAIL + x)), state
        x = u * _ZX[i]
        f0 = math.exp(-0.5 * (_ZX[i] * _ZX[i] - x * x))
        f1 = math.exp(-0.5 * (_ZX[i + 1] * _ZX[i + 1] - x * x))
        a, state = _uniform(state)
        if f1 + a * (f0 - f1) < 1.0:
            return x, state
        bits, state = _bits(state)
        i = int(bits & np.uint64(127))
        u = 2.0 * (float(np.int64(bits >> np.uint64(11))) * _INV53) - 1.0
        if abs(u) < _ZR[i]:
            return u * _ZX[i], state


@njit(cache=True, nogil=True)
def _zig(bits, state):  # type: ignore[no-untyped-def]
    """A standard normal from the 64 ``bits`` (128-layer ziggurat, as in :mod:`blurkit.kernels._prng`);
    the rare paths draw further values after ``state``, the state that gave ``bits``."""
    layer = int(bits & np.uint64(127))
    u = 2.0 * (float(np.int64(bits >> np.uint64(11))) * _INV53) - 1.0
    if abs(u) < _ZR[layer]:
        return u * _ZX[layer]
    return _normal_rare(state, layer, u)[0]


@njit(cache=True, nogil=True)
def _exact_level(v, kind, g):  # type: ignore[no-untyped-def]
    return int(np.rint(np.float64(np.float32(_curve_to_display(v, kind, g))) * 255.0))


@njit(cache=True, nogil=True)
def finish_rows(  # type: ignore[no-untyped-def]
    blur, out, out8, use8, seed, shot, read, exact_below, cdf, guide, kind, g, thr, base, tol, r0, r1
):
    """Rows ``r0..r1``: clip, Poisson–Gaussian noise and clip again on the blurred planes ``blur``
    (3, H, W), then display values into ``out`` (3, H, W) float32, or 8-bit levels into ``out8``
    (H, W, 3): ``rint(255 · float32 value)``, as :func:`blurkit.io.to_uint` rounds the float32
    values, found in the threshold tables of :func:`blurkit.ops.color.display_thresholds` (values
    within ``tol``, relative, of a threshold go through the curve). The common cases run inline;
    the rare ones call out."""
    h, w = blur.shape[1], blur.shape[2]
    key = _mix64(np.uint64(seed) ^ _SALT)
    noisy = shot > 0.0 or read > 0.0
    buckets = base.shape[0]
    for c in range(3):
        for i in range(r0, r1):
            row = (c * h + i) * w
            for j in range(w):
                v = min(max(np.float64(blur[c, i, j]), 0.0), 1.0)
                if noisy:
                    # the element's stream: its first value, then SplitMix64 steps from it
                    state = _mix64(key + np.uint64(row + j) * _GOLDEN)
                    bits = state
                    lam = v / shot if shot > 0.0 else exact_below
                    if lam < exact_below:
                        # exact Poisson: Poisson(m) from its table, plus a Poisson(1) count thinned
                        # with probability f, for lam = m + f (no transcendental function)
                        m = int(lam)
                        f = lam - m
                        k = 0
                        for part in range(2):
                            if (m if part == 0 else f) > 0:
                                mean = m if part == 0 else 1
                                u = float(np.int64(bits >> np.uint64(11))) * _INV53
                                n = guide[mean, int(u * _GUIDE)]
                                while cdf[mean, n] <= u:
                                    n += 1
                                bits, state = _bits(state)
                                if part == 0:
                                    k = n
                                else:
                                    for _ in range(n):
                                        k += float(np.int64(bits >> np.uint64(11))) * _INV53 < f
                                        bits, state = _bits(state)
                        v = k * shot
                        if read > 0.0:
                            v += read * _zig(bits, state)
                    else:
                        v = v + math.sqrt(v * shot + read * read) * _zig(bits, state)
                    v = min(max(v, 0.0), 1.0)
                if not use8:
                    out[c, i, j] = _curve_to_display(v, kind, g)
                elif kind == 0:
                    out8[i, j, c] = np.uint8(np.rint(np.float64(np.float32(v)) * 255.0))
                else:
                    q = base[min(int(v * buckets), buckets - 1)]
                    q += thr[q + 1] <= v
                    while thr[q + 1] <= v:
                        q += 1
                    if v - thr[q] < tol * thr[q] or thr[q + 1] - v < tol * thr[q + 1]:
                        q = _exact_level(v, kind, g)
                    out8[i, j, c] = q
