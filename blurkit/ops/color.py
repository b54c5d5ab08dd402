"""Tone curves between display values and linear light (blur happens in linear light).

Responses: ``"srgb"`` (IEC 61966-2-1 piecewise curve), ``"gamma:G"`` (pure power law, e.g.
``"gamma:2.2"``), ``"linear"`` (no conversion: blur the display values, as DeblurGAN did).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch


def parse_response(response: str) -> tuple[str, float]:
    """Validate a response name and return ``(kind, gamma)``.

    >>> parse_response("gamma:2.2")
    ('gamma', 2.2)
    """
    if response in ("srgb", "linear"):
        return response, 0.0
    if isinstance(response, str) and response.startswith("gamma:"):
        try:
            g = float(response.split(":", 1)[1])
        except ValueError:
            g = float("nan")
        if g > 0:
            return "gamma", g
    raise ValueError(f"response: expected 'srgb', 'linear' or 'gamma:G' with G > 0, got {response!r}")


Array = TypeVar("Array", "torch.Tensor", np.ndarray)


def _where(x: Array) -> Callable[..., Array]:
    """``np.where`` for NumPy arrays, ``torch.where`` for tensors (NumPy callers never import torch)."""
    if isinstance(x, np.ndarray):
        return np.where
    import torch

    return torch.where  # type: ignore[return-value]


def to_linear(x: Array, response: str = "srgb") -> Array:
    """Display values in [0, 1] → linear light (a tensor or a NumPy array, returned as the same).

    >>> round(float(to_linear(np.array([0.5]))[0]), 6)
    0.214041
    """
    kind, g = parse_response(response)
    if kind == "linear":
        return x
    x = x.clip(0.0, 1.0)
    if kind == "gamma":
        return x**g
    return _where(x)(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def from_linear(x: Array, response: str = "srgb") -> Array:
    """Linear light in [0, 1] → display values (a tensor or a NumPy array, returned as the same)."""
    kind, g = parse_response(response)
    if kind == "linear":
        return x
    x = x.clip(0.0, 1.0)
    if kind == "gamma":
        return x ** (1.0 / g)
    return _where(x)(x <= 0.0031308, x * 12.92, 1.055 * x.clip(0.0031308, None) ** (1.0 / 2.4) - 0.055)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """Rec. 709 luminance of linear RGB (B, 3, H, W) → (B, 1, H, W)."""
    import torch

    w = torch.tensor([0.2126, 0.7152, 0.0722], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


# --- Tables of chain 2 (float64 curves rounded once to float32; see blurkit.ops.chain) ---------------

#: Response kinds as the compiled CPU kernels number them.
KIND_CODES = {"linear": 0, "srgb": 1, "gamma": 2}


def _to_linear1(x: float, kind: str, g: float) -> float:
    """One value, with the libm ``pow`` the compiled kernels call (so the table and the kernels agree)."""
    if kind == "linear":
        return x
    x = min(max(x, 0.0), 1.0)
    if kind == "gamma":
        return math.pow(x, g)
    return x / 12.92 if x <= 0.04045 else math.pow((x + 0.055) / 1.055, 2.4)


@functools.lru_cache(maxsize=16)
def _linear_table(response: str) -> np.ndarray:
    kind, g = parse_response(response)
    levels = grid_levels().tolist()
    table = np.array([_to_linear1(v, kind, g) for v in levels], dtype=np.float64).astype(np.float32)
    table.flags.writeable = False
    return table


def linear_table(response: str = "srgb") -> np.ndarray:
    """The linear value of each 8-bit display level ``k``: ``float32(curve(float32(k / 255)))``, the
    curve evaluated in float64 and rounded once (what chain 2 computes for any input on the 8-bit grid).

    >>> t = linear_table("srgb")
    >>> t.dtype, float(t[0]), float(t[255]), round(float(t[128]), 6)
    (dtype('float32'), 0.0, 1.0, 0.215861)
    """
    return _linear_table(response)


def grid_levels() -> np.ndarray:
    """``float32(k / 255)`` for k = 0..255: how an 8-bit level reads as a float32 display value."""
    return np.arange(256, dtype=np.float32) / np.float32(255.0)


#: Buckets of the index over [0, 1] that :func:`display_thresholds` returns.
THRESHOLD_BUCKETS = 4096


@functools.lru_cache(maxsize=16)
def _display_thresholds(response: str) -> tuple[np.ndarray, np.ndarray]:
    kind, g = parse_response(response)
    levels = (np.arange(1, 256) - 0.5) / 255.0
    lower = np.array([_to_linear1(float(d), kind, g) for d in levels]) if kind != "linear" else levels
    thr = np.concatenate([[-1.0], lower, [2.0]])
    edges = np.arange(THRESHOLD_BUCKETS) / THRESHOLD_BUCKETS
    base = (np.searchsorted(thr, edges, side="right") - 1).astype(np.int64)
    for arr in (thr, base):
        arr.flags.writeable = False
    return thr, base


def display_thresholds(response: str = "srgb") -> tuple[np.ndarray, np.ndarray]:
    """Where the 8-bit display level changes, in linear light: the tables that let chain 2 round
    linear values to 8-bit display levels without evaluating the curve.

    Returns ``(thr, base)``: ``thr[j]`` (j = 1..255) is the linear value whose display value is
    ``(j - 0.5) / 255`` (``thr[0] = -1``, ``thr[256] = 2``), and ``base[b]`` the level of the linear
    value ``b / THRESHOLD_BUCKETS``, where a search starts. Values within a relative 1e-6 of a
    threshold are rounded through the curve itself, so the result is always that of the curve.

    >>> thr, base = display_thresholds("srgb")
    >>> thr.shape, base.shape, int(base[-1])  # the last bucket, linear 4095/4096, is level 255
    ((257,), (4096,), 255)
    """
    return _display_thresholds(response)
