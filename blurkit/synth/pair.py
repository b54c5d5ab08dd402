"""One sharp image → one blurred image, its kernel and its record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from blurkit.ops.degrade import DegradeConfig, apply_degradation, resolve_config, sample_degradation
from blurkit.tensors import chw_to_hwc, hwc_to_chw


def blur_image(
    image: np.ndarray,
    seed: int,
    preset: str | DegradeConfig = "realistic",
    overrides: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Blur one float32 RGB image (H, W, 3) in [0, 1].

    Returns:
        ``(blurred, kernel, record)``: the blurred image (H, W, 3) float32 in [0, 1], its kernel
        (k, k) float32, and the record of every drawn value.

    >>> img = np.random.default_rng(0).random((40, 50, 3), dtype=np.float32)
    >>> b, k, r = blur_image(img, seed=3, preset="deblurgan", overrides={"length": 10})
    >>> b.shape, r["length"]
    ((40, 50, 3), 10.0)
    """
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"image: expected an (H, W, 3) RGB array, got shape {arr.shape}")
    config = resolve_config(preset, overrides)
    deg = sample_degradation(seed, config)
    x = hwc_to_chw(torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)))[None].to(device)
    k = torch.from_numpy(deg.kernel)[None].to(device)
    out = apply_degradation(x, k, [deg.record])
    return chw_to_hwc(out[0]).cpu().numpy(), deg.kernel, deg.record
