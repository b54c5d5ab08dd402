"""NumPy twins of the compiled kernels of chain 2 (:mod:`blurkit.ops._chain_cpu`), same signatures.

They run while the compiled kernels are not worth compiling yet (:mod:`blurkit._jit`) and give the
same bytes: the same float64 operations in the same order, each element's own SplitMix64 stream,
and libm (Python's :mod:`math`) wherever the kernels call ``pow``, ``exp`` or ``log``, for the few
elements that need it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from blurkit.kernels._prng import _M1, _M2, _ZR, _ZTAIL, _ZX
from blurkit.ops import _chain_cpu
from blurkit.ops.noise import GUIDE_BUCKETS

_GOLDEN = _chain_cpu._GOLDEN
_SALT = _chain_cpu._SALT
_INV53 = _chain_cpu._INV53


def _mix64(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _round_like_libm(d: np.ndarray, exact: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``float32(d)`` for values ``d`` computed with NumPy's ``pow`` (within a few ulps of libm's):
    the few that lie so close to a float32 rounding midpoint that those ulps could matter are
    recomputed exactly (``exact(flat_index)``, libm through Python's math), so the result is libm's."""
    flat = d.ravel()
    f = flat.astype(np.float32)
    wide = f.astype(np.float64)
    lo = (wide + np.nextafter(f, np.float32(-np.inf))) / 2.0
    hi = (wide + np.nextafter(f, np.float32(np.inf))) / 2.0
    margin = 64.0 * np.spacing(np.abs(flat))
    risky = np.flatnonzero((np.abs(flat - lo) <= margin) | (np.abs(hi - flat) <= margin))
    if risky.size:
        f[risky] = exact(risky)
    return f.reshape(d.shape)


def _curve(fn: Any, values: np.ndarray, kind: int, g: float, vectorised: np.ndarray) -> np.ndarray:
    """float32 of the scalar curve ``fn`` (a compiled kernel's plain twin) on ``values``, from its
    NumPy evaluation ``vectorised``."""
    flat = values.ravel()
    return _round_like_libm(
        vectorised, lambda idx: np.array([fn(float(v), kind, g) for v in flat[idx].tolist()], dtype=np.float32)
    )


def linearise_rows(src, src8, use8, table, grid, kind, g, gain, thr, ramp, out, r0, r1):  # type: ignore[no-untyped-def]
    """:func:`blurkit.ops._chain_cpu.linearise_rows` in NumPy."""
    if use8:
        px = table[src8[r0:r1]].astype(np.float64).transpose(2, 0, 1)
    else:
        v = src[:, r0:r1].astype(np.float64)
        inside = (v >= 0.0) & (v <= 1.0)
        k = np.where(inside, (v * 255.0 + 0.5), 0.0).astype(np.int64)
        on_grid = grid[k] == src[:, r0:r1]
        px = np.where(on_grid, table[k], 0.0).astype(np.float64)
        off = ~on_grid
        x = np.minimum(np.maximum(v[off], 0.0), 1.0)
        if kind == 0:
            vec = v[off]
        elif kind == 2:
            vec = np.power(x, g)
        else:
            vec = np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4))
        px[off] = _curve(_chain_cpu._curve_to_linear.py_func, v[off], kind, g, vec)
    if gain == 0.0:
        res = px
    elif ramp:
        lum = 0.2126 * px[0] + 0.7152 * px[1] + 0.0722 * px[2]
        m = np.minimum(np.maximum((lum - thr) / (1.0 - thr), 0.0), 1.0)
        res = px * (1.0 + gain * m)
    else:
        res = np.where(px >= thr, px * (1.0 + gain), px)
    out[:, r0:r1] = res


class _Streams:
    """Every element's stream (its first value, then SplitMix64 steps from it), advanced where a
    mask says so: ``state`` gave ``cur``, the next value to hand out."""

    def __init__(self, seed: int, elements: np.ndarray) -> None:
        key = _mix64(np.array([seed], dtype=np.uint64) ^ _SALT)[0]
        self.state = _mix64(key + elements.astype(np.uint64) * _GOLDEN)
        self.cur = self.state.copy()

    def bits(self, where: np.ndarray | None) -> np.ndarray:
        """The next value of the elements ``where`` says (a boolean mask; ``None``: all of them)."""
        if where is None:
            out = self.cur.copy()
            self.state += _GOLDEN
            self.cur = _mix64(self.state)
            return out
        out = self.cur[where]
        self.state[where] += _GOLDEN
        self.cur[where] = _mix64(self.state[where])
        return out

    def uniform(self, where: np.ndarray | None) -> np.ndarray:
        return (self.bits(where) >> np.uint64(11)).astype(np.int64).astype(np.float64) * _INV53

    def normal(self, where: np.ndarray | None) -> np.ndarray:
        before = self.state.copy() if where is None else self.state[where]
        b = self.bits(where)
        layer = (b & np.uint64(127)).astype(np.int64)
        u = 2.0 * ((b >> np.uint64(11)).astype(np.int64).astype(np.float64) * _INV53) - 1.0
        z = u * _ZX[layer]
        rare = ~(np.abs(u) < _ZR[layer])
        if rare.any():
            z[rare] = _rare_normals(before[rare], layer[rare], u[rare])
        return z

    def table(self, where: np.ndarray, m: np.ndarray, cdf: np.ndarray, guide: np.ndarray) -> np.ndarray:
        u = self.uniform(where)
        k = guide[m, (u * GUIDE_BUCKETS).astype(np.int64)]
        while True:
            more = cdf[m, k] <= u
            if not more.any():
                return k
            k = k + more


def _libm(fn: Callable[[float], float], values: np.ndarray) -> np.ndarray:
    return np.array([fn(v) for v in values.tolist()], dtype=np.float64)


def _rare_normals(state: np.ndarray, layer: np.ndarray, u: np.ndarray) -> np.ndarray:
    """:func:`blurkit.ops._chain_cpu._normal_rare` for many elements at once: the same draws from
    each element's stream, the same tests, libm's ``exp`` and ``log``."""
    st, i, uu = state.copy(), layer.copy(), u.copy()
    z = np.empty(st.shape)

    def uniform(idx: np.ndarray) -> np.ndarray:
        st[idx] += _GOLDEN
        return (_mix64(st[idx]) >> np.uint64(11)).astype(np.int64).astype(np.float64) * _INV53

    pending = np.arange(st.size)
    while pending.size:
        tail = pending[i[pending] == 0]
        while tail.size:  # the base layer's tail: Marsaglia's exponential method
            a, b = uniform(tail), uniform(tail)
            x = -_libm(math.log, 1.0 - a) / _ZTAIL
            ok = -2.0 * _libm(math.log, 1.0 - b) >= x * x
            z[tail[ok]] = np.where(uu[tail[ok]] > 0.0, _ZTAIL + x[ok], -(_ZTAIL + x[ok]))
            tail = tail[~ok]
        wedge = pending[i[pending] != 0]
        x = uu[wedge] * _ZX[i[wedge]]
        f0 = _libm(math.exp, -0.5 * (_ZX[i[wedge]] * _ZX[i[wedge]] - x * x))
        f1 = _libm(math.exp, -0.5 * (_ZX[i[wedge] + 1] * _ZX[i[wedge] + 1] - x * x))
        take = f1 + uniform(wedge) * (f0 - f1) < 1.0
        z[wedge[take]] = x[take]
        rest = wedge[~take]
        st[rest] += _GOLDEN
        bits = _mix64(st[rest])
        i[rest] = (bits & np.uint64(127)).astype(np.int64)
        uu[rest] = 2.0 * ((bits >> np.uint64(11)).astype(np.int64).astype(np.float64) * _INV53) - 1.0
        fast = np.abs(uu[rest]) < _ZR[i[rest]]
        z[rest[fast]] = uu[rest[fast]] * _ZX[i[rest[fast]]]
        pending = rest[~fast]
    return z


def _poisson(lam: np.ndarray, streams: _Streams, cdf, guide) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Exact Poisson counts of means ``lam``, one element of ``streams`` each."""
    m = lam.astype(np.int64)
    f = lam - m
    k = np.zeros(lam.shape, dtype=np.int64)
    has_m = m > 0
    k[has_m] = streams.table(has_m, m[has_m], cdf, guide)
    has_f = f > 0.0
    n = streams.table(has_f, np.ones(int(has_f.sum()), dtype=np.int64), cdf, guide)
    count = np.zeros(lam.shape, dtype=np.int64)
    count[has_f] = n
    for t in range(int(count.max(initial=0))):
        live = count > t
        k[live] += streams.uniform(live) < f[live]
    return k.astype(np.float64)


def finish_rows(  # type: ignore[no-untyped-def]
    blur, out, out8, use8, seed, shot, read, exact_below, cdf, guide, kind, g, thr, base, tol, r0, r1
):
    """:func:`blurkit.ops._chain_cpu.finish_rows` in NumPy."""
    _, h, w = blur.shape
    y = np.minimum(np.maximum(blur[:, r0:r1].astype(np.float64), 0.0), 1.0)
    v = y
    if shot > 0.0 or read > 0.0:
        c, i, j = np.indices(y.shape, dtype=np.int64)
        elements = ((c * h + i + r0) * w + j).ravel()
        flat = y.ravel()
        lam = flat / shot if shot > 0.0 else np.full_like(flat, exact_below)
        exact = lam < exact_below
        res = np.empty_like(flat)
        if exact.any():  # each element's stream is its own: the two groups draw from separate objects
            few = _Streams(seed, elements[exact])
            res[exact] = _poisson(lam[exact], few, cdf, guide) * shot
            if read > 0.0:
                res[exact] += read * few.normal(None)
        normal = ~exact
        if normal.any():
            z = _Streams(seed, elements[normal]).normal(None)
            res[normal] = flat[normal] + np.sqrt(flat[normal] * shot + read * read) * z
        v = np.minimum(np.maximum(res, 0.0), 1.0).reshape(y.shape)
    if use8:
        out8[r0:r1] = _levels(v, kind, g, thr, tol).transpose(1, 2, 0)
    else:
        out[:, r0:r1] = _display(v, kind, g)


def _display(v: np.ndarray, kind: int, g: float) -> np.ndarray:
    if kind == 0:
        return v.astype(np.float32)
    if kind == 2:
        vec = np.power(v, 1.0 / g)
    else:
        vec = np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1.0 / 2.4) - 0.055)
    return _curve(_chain_cpu._curve_to_display.py_func, v, kind, g, vec)


def _levels(v: np.ndarray, kind: int, g: float, thr: np.ndarray, tol: float) -> np.ndarray:
    """8-bit levels from the threshold tables; values near a threshold through the curve."""
    q = np.searchsorted(thr, v, side="right") - 1
    if kind == 0:
        near = np.ones(v.shape, dtype=bool)
    else:
        near = ~((v - thr[q] >= tol * thr[q]) & (thr[q + 1] - v >= tol * thr[q + 1]))
    q[near] = np.rint(_display(v[near], kind, g).astype(np.float64) * 255.0).astype(np.int64)
    return q.astype(np.uint8)


__all__ = ["finish_rows", "linearise_rows"]
