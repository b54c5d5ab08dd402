"""A tiny per-stream PRNG for Numba kernels (SplitMix64 seeding + xoshiro256**).

Each trajectory owns a stream seeded by ``(root, index)``, so the i-th trajectory is the same whatever
the batch size, the thread count or the order of work. numpy's Generator cannot be called from
parallel Numba code, hence this generator; it is only used inside blurkit's compiled kernels.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def _mix64(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def stream_seed(root: np.uint64, index: np.uint64) -> np.uint64:
    """The 64-bit seed of stream ``index`` under ``root`` (a SplitMix64 hash of both)."""
    return _mix64(root ^ _mix64(index * _GOLDEN + _GOLDEN))


@njit(cache=True)
def new_state(seed: np.uint64) -> np.ndarray:
    """xoshiro256** state (4 words) from a 64-bit seed via SplitMix64."""
    s = np.empty(4, dtype=np.uint64)
    x = seed
    for j in range(4):
        x = x + _GOLDEN
        s[j] = _mix64(x)
    return s


@njit(cache=True, inline="always")
def _rotl(x: np.uint64, k: int) -> np.uint64:
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, inline="always")
def next_u64(s: np.ndarray) -> np.uint64:
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@njit(cache=True, inline="always")
def uniform(s: np.ndarray) -> float:
    """A float64 uniform in [0, 1)."""
    return float(np.int64(next_u64(s) >> np.uint64(11))) * _INV53


def _ziggurat_tables(layers: int = 128, r: float = 3.442619855899, v: float = 9.91256303526217e-3):
    """Layer abscissae and ratios of the Marsaglia–Tsang ziggurat for the standard normal
    (Doornik's 128-layer ZIGNOR constants)."""
    x = np.zeros(layers + 1)
    f = np.exp(-0.5 * r * r)
    x[0] = v / f
    x[1] = r
    for i in range(2, layers):
        x[i] = np.sqrt(-2.0 * np.log(v / x[i - 1] + f))
        f = np.exp(-0.5 * x[i] * x[i])
    ratio = x[1:] / x[:-1]
    return x, ratio


_ZX, _ZR = _ziggurat_tables()
_ZTAIL = 3.442619855899


@njit(cache=True)
def _normal_tail(s: np.ndarray, u: float) -> float:
    """A normal beyond the ziggurat's base R, with the sign of ``u`` (Marsaglia's exponential method)."""
    while True:
        x = -math.log(1.0 - uniform(s)) / _ZTAIL
        y = -math.log(1.0 - uniform(s))
        if 2.0 * y >= x * x:
            return _ZTAIL + x if u > 0.0 else -(_ZTAIL + x)


@njit(cache=True, inline="always")
def _layer_draw(s: np.ndarray) -> tuple[np.uint64, float]:
    bits = next_u64(s)
    # via int64: uint64 -> float64 has no single x86 instruction and is several times slower
    return bits & np.uint64(127), 2.0 * (float(np.int64(bits >> np.uint64(11))) * _INV53) - 1.0


@njit(cache=True)
def _normal_slow(s: np.ndarray, i: np.uint64, u: float) -> float:
    """The ziggurat's rare paths: the base layer's tail and the wedges outside the rectangles."""
    while True:
        if i == 0:
            return _normal_tail(s, u)
        x = u * _ZX[i]
        f0 = math.exp(-0.5 * (_ZX[i] * _ZX[i] - x * x))
        f1 = math.exp(-0.5 * (_ZX[i + np.uint64(1)] * _ZX[i + np.uint64(1)] - x * x))
        if f1 + uniform(s) * (f0 - f1) < 1.0:
            return x
        i, u = _layer_draw(s)
        if abs(u) < _ZR[i]:
            return u * _ZX[i]


@njit(cache=True, inline="always")
def normal(s: np.ndarray) -> float:
    """A standard normal (128-layer Marsaglia–Tsang ziggurat; one 64-bit draw in ~99% of calls)."""
    i, u = _layer_draw(s)
    if abs(u) < _ZR[i]:
        return u * _ZX[i]
    return _normal_slow(s, i, u)


@njit(cache=True, inline="always")
def normal_pair(s: np.ndarray) -> tuple[float, float]:
    """Two independent standard normals."""
    a = normal(s)
    return a, normal(s)


# --- Value-style variants: the state travels as four scalars, so hot loops keep it in registers
# (an array state that escapes into a call is reloaded from memory on every draw). They produce
# exactly the same numbers as the array-state functions above.


@njit(cache=True, inline="always")
def next_u64_v(s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64):  # type: ignore[no-untyped-def]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, s0, s1, s2, s3


@njit(cache=True, inline="always")
def uniform_v(s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64):  # type: ignore[no-untyped-def]
    r, s0, s1, s2, s3 = next_u64_v(s0, s1, s2, s3)
    return float(np.int64(r >> np.uint64(11))) * _INV53, s0, s1, s2, s3


@njit(cache=True)
def _normal_slow_v(s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64, i: np.uint64, u: float):  # type: ignore[no-untyped-def]
    s = np.empty(4, dtype=np.uint64)
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
    g = _normal_slow(s, i, u)
    return g, s[0], s[1], s[2], s[3]


@njit(cache=True, inline="always")
def normal_v(s0: np.uint64, s1: np.uint64, s2: np.uint64, s3: np.uint64):  # type: ignore[no-untyped-def]
    bits, s0, s1, s2, s3 = next_u64_v(s0, s1, s2, s3)
    i = bits & np.uint64(127)
    u = 2.0 * (float(np.int64(bits >> np.uint64(11))) * _INV53) - 1.0
    if abs(u) < _ZR[i]:
        return u * _ZX[i], s0, s1, s2, s3
    return _normal_slow_v(s0, s1, s2, s3, i, u)
