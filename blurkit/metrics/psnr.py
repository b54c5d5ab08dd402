"""Peak signal-to-noise ratio on 8-bit intensity levels.

Conventions (see ``docs/metrics.md``): float inputs in [0, 1] are rounded to 8-bit levels first
(``quantize=True``), the peak is 255, the squared error is accumulated in float64 and averaged over
every pixel and channel of each image, and identical images score ``inf``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from blurkit.metrics._input import PEAK, Batch, finish, prepare, uint8_numpy_pair
from blurkit.metrics.color import luma_full, y_bt601
from blurkit.tensors import chw_to_hwc

PSNR_VARIANTS = ("rgb", "y", "luma")


def mse_to_psnr(mse: torch.Tensor, peak: float = PEAK) -> torch.Tensor:
    """``10 log10(peak² / mse)`` in float64; a zero error gives ``inf``."""
    mse = mse.to(torch.float64)
    return 10.0 * torch.log10(peak * peak / mse)  # x / 0 → inf, log10(inf) → inf


def batch_mse(batch: Batch, variant: str = "rgb") -> torch.Tensor:
    """Mean squared error per image (B,), float64, on the 0..255 scale."""
    x, y = batch.x, batch.y
    if variant == "rgb":
        if x.device.type == "cpu":  # a fused Numba loop beats torch's CPU kernels here
            from blurkit.metrics._ssim_cpu import squared_error_sum

            xn = np.ascontiguousarray(chw_to_hwc(x).numpy())
            yn = np.ascontiguousarray(chw_to_hwc(y).numpy())
            return torch.from_numpy(squared_error_sum(xn, yn) / xn[0].size)
        if batch.integer_valued and x.dtype == torch.float32:
            d = x - y
            return (d * d).sum(dim=(1, 2, 3), dtype=torch.float64) / d[0].numel()
        d64 = x.to(torch.float64) - y.to(torch.float64)
        return (d64 * d64).mean(dim=(1, 2, 3))
    if variant in ("y", "luma"):
        conv = y_bt601 if variant == "y" else luma_full
        d64 = conv(x.to(torch.float64)) - conv(y.to(torch.float64))
        return (d64 * d64).mean(dim=(1, 2, 3))
    raise ValueError(f"variant: unknown PSNR variant {variant!r} (use one of {', '.join(PSNR_VARIANTS)})")


def psnr(pred: Any, target: Any, variant: str = "rgb", quantize: bool = True) -> Any:
    """PSNR in dB between two images or batches, peak 255.

    Args:
        pred: NumPy (H, W[, C]) / (N, H, W, C) or torch (C, H, W) / (B, C, H, W); uint8 or float in
            [0, 1].
        target: same kind, shape and dtype as ``pred``.
        variant: ``"rgb"`` (every channel, the GoPro convention), ``"y"`` (studio-range BT.601 Y) or
            ``"luma"`` (full-range 0.299/0.587/0.114 luma, as in the Köhler evaluation code).
        quantize: round float inputs to 8-bit levels before scoring (``False`` scores them as
            ``x * 255`` unrounded).

    Returns:
        A float for one image; for a batch a float64 NumPy array (NumPy input) or float64 tensor on the
        input device (torch input). Identical images give ``inf``.

    Raises:
        ValueError: mismatched shapes or dtypes, unsupported layouts, or an unknown variant.

    >>> import numpy as np
    >>> a = np.zeros((4, 4, 3), np.uint8); b = a.copy(); b[0, 0, 0] = 255
    >>> round(psnr(b, a), 4)
    16.8124
    >>> psnr(a, a)
    inf
    """
    if variant not in PSNR_VARIANTS:
        raise ValueError(f"variant: unknown PSNR variant {variant!r} (use one of {', '.join(PSNR_VARIANTS)})")
    fast = uint8_numpy_pair(pred, target)
    if fast is not None and variant == "rgb":
        from blurkit.metrics._ssim_cpu import squared_error_sum_u8

        xa, ya = np.ascontiguousarray(fast[0]), np.ascontiguousarray(fast[1])
        p = mse_to_psnr(torch.from_numpy(squared_error_sum_u8(xa, ya) / xa[0].size)).numpy()
        return float(p[0]) if fast[2] else p
    batch = prepare(pred, target, quantize=quantize)
    if variant != "rgb" and batch.x.shape[1] != 3:
        raise ValueError(f"variant {variant!r} needs RGB images, got shape {tuple(pred.shape)}")
    return finish(mse_to_psnr(batch_mse(batch, variant)), batch)


def psnr_from_mse(mse: float, peak: float = PEAK) -> float:
    """Scalar version of :func:`mse_to_psnr` (``inf`` for zero error)."""
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)
