"""Luma conversions used by the ``y`` metric variants and the Köhler protocol.

Both act on (B, 3, H, W) tensors on the 0..255 scale and return (B, 1, H, W) in float64-safe
arithmetic (the input dtype is kept; use float64 inputs for float64 results).

* :func:`y_bt601` — studio-range BT.601 luma, ``16 + (65.481 R + 128.553 G + 24.966 B) / 255``,
  as MATLAB's ``rgb2ycbcr`` (and BasicSR's ``test_y_channel``) computes it, without rounding.
* :func:`luma_full` — full-range luma ``0.299 R + 0.587 G + 0.114 B``, the grey level used by the
  Köhler et al. evaluation code (``preprocess_metrix_mux``).
"""

from __future__ import annotations

import torch

BT601_STUDIO = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)
BT601_FULL = (0.299, 0.587, 0.114)


def _weighted(x: torch.Tensor, w: tuple[float, float, float], offset: float) -> torch.Tensor:
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"luma needs RGB images (B, 3, H, W), got shape {tuple(x.shape)}")
    return offset + w[0] * x[:, 0:1] + w[1] * x[:, 1:2] + w[2] * x[:, 2:3]


def y_bt601(x: torch.Tensor) -> torch.Tensor:
    """Studio-range BT.601 Y (16..235) of RGB on 0..255.

    >>> import torch
    >>> float(y_bt601(torch.full((1, 3, 1, 1), 255.0)))
    235.0
    """
    return _weighted(x, BT601_STUDIO, 16.0)


def luma_full(x: torch.Tensor) -> torch.Tensor:
    """Full-range BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` of RGB on 0..255.

    >>> import torch
    >>> round(float(luma_full(torch.full((1, 3, 1, 1), 255.0))), 6)
    255.0
    """
    return _weighted(x, BT601_FULL, 0.0)
