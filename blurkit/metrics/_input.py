"""Input checking and conversion shared by the metrics.

Every metric accepts either NumPy arrays laid out (H, W), (H, W, C) or (N, H, W, C), or torch tensors
laid out (C, H, W) or (B, C, H, W). Both inputs must have the same kind, shape and dtype. They are
turned into a torch tensor (B, C, H, W) of intensities on the 0..255 scale, on the device of the
input:

* ``uint8`` values are taken as they are;
* floating-point values are taken as [0, 1] intensities: clipped to [0, 1], multiplied by 255 and,
  when ``quantize`` is true (the default), rounded to the nearest integer, which is what saving the
  image as an 8-bit PNG would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from blurkit.tensors import hwc_to_chw

PEAK = 255.0


@dataclass(frozen=True)
class Batch:
    """Two image batches on the 0..255 scale, as (B, C, H, W) tensors, and how to return results."""

    x: torch.Tensor
    y: torch.Tensor
    integer_valued: bool  # every value is an integer 0..255 (exact float32 arithmetic on differences)
    single: bool  # the input was one image: return a Python float
    numpy: bool  # the input was NumPy: return NumPy arrays


def _describe(a: Any) -> str:
    return f"{type(a).__module__.split('.')[0]} array of shape {tuple(a.shape)} and dtype {a.dtype}"


def prepare(a: Any, b: Any, quantize: bool = True) -> Batch:
    """Check two inputs against each other and convert them to (B, C, H, W) tensors on 0..255.

    Raises:
        ValueError: mixed NumPy/torch inputs, different shapes or dtypes, an unsupported layout or
            dtype, or non-finite values; the message names both inputs.
    """
    a_np, b_np = isinstance(a, np.ndarray), isinstance(b, np.ndarray)
    a_t, b_t = isinstance(a, torch.Tensor), isinstance(b, torch.Tensor)
    if not ((a_np and b_np) or (a_t and b_t)):
        raise ValueError(
            f"inputs must be two NumPy arrays or two torch tensors, got {type(a).__name__} and {type(b).__name__}"
        )
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"shape mismatch: {tuple(a.shape)} vs {tuple(b.shape)}")
    if a.dtype != b.dtype:
        raise ValueError(f"dtype mismatch: {a.dtype} vs {b.dtype} (shapes {tuple(a.shape)} and {tuple(b.shape)})")
    if a_np:
        single = a.ndim in (2, 3)
        xn, yn = _numpy_levels(a, quantize), _numpy_levels(b, quantize)
        # NHWC memory seen as NCHW: the CPU kernels read it back as contiguous NHWC without a copy.
        xt, yt = hwc_to_chw(torch.from_numpy(xn)), hwc_to_chw(torch.from_numpy(yn))
        return Batch(xt, yt, a.dtype == np.uint8 or quantize, single, True)
    if a.ndim not in (3, 4):
        raise ValueError(f"unsupported input: {_describe(a)} (use (C, H, W) or (B, C, H, W))")
    x, y, single = a, b, a.ndim == 3
    if single:
        x, y = x.unsqueeze(0), y.unsqueeze(0)
    if x.dtype == torch.uint8:
        return Batch(_dense(x.float()), _dense(y.float()), True, single, False)
    if not x.is_floating_point():
        raise ValueError(f"unsupported dtype {a.dtype}: use uint8 or floating point in [0, 1]")
    if not (bool(torch.isfinite(x).all()) and bool(torch.isfinite(y).all())):
        raise ValueError(f"non-finite values in the inputs ({_describe(a)})")
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    x = x.to(work).clamp(0.0, 1.0) * PEAK
    y = y.to(work).clamp(0.0, 1.0) * PEAK
    if quantize:
        x, y = torch.round(x), torch.round(y)
    return Batch(_dense(x), _dense(y), quantize, single, False)


def uint8_numpy_pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """(N, H, W, C) views of two uint8 NumPy images of the same shape, and whether it was one image.

    ``None`` for anything else (those inputs go through :func:`prepare`, which validates them).
    """
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
        return None
    if a.dtype != np.uint8 or b.dtype != np.uint8 or a.shape != b.shape or a.ndim not in (2, 3, 4):
        return None
    if a.ndim == 2:
        return a[None, :, :, None], b[None, :, :, None], True
    if a.ndim == 3:
        return a[None], b[None], True
    return a, b, False


def _dense(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.contiguous_format)


def _numpy_levels(a: np.ndarray, quantize: bool) -> np.ndarray:
    """NumPy (H, W), (H, W, C) or (N, H, W, C) → contiguous (N, H, W, C) float on 0..255."""
    if a.ndim == 2:
        a = a[None, :, :, None]
    elif a.ndim == 3:
        a = a[None]
    elif a.ndim != 4:
        raise ValueError(f"unsupported input: {_describe(a)} (use (H, W), (H, W, C) or (N, H, W, C))")
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a, dtype=np.float32)
    if a.dtype.kind != "f":
        raise ValueError(f"unsupported dtype {a.dtype}: use uint8 or floating point in [0, 1]")
    if not np.isfinite(a).all():
        raise ValueError(f"non-finite values in the inputs ({_describe(a)})")
    work = np.float64 if a.dtype == np.float64 else np.float32
    out: np.ndarray = np.clip(np.asarray(a, dtype=work), 0.0, 1.0) * work(PEAK)
    if quantize:
        out = np.rint(out)
    return np.ascontiguousarray(out, dtype=work)


def finish(values: torch.Tensor, batch: Batch) -> Any:
    """Per-image values (B,) → float for one image, NumPy float64 array or float64 tensor for a batch."""
    values = values.to(torch.float64)
    if batch.single:
        return float(values[0])
    if batch.numpy:
        return values.cpu().numpy()
    return values
