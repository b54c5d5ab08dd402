"""Images as arrays (H, W, C) and as tensors (C, H, W): the one place that converts between them.

Arrays are what OpenCV and :mod:`blurkit.io` read and write; tensors are what torch models and the
batched blur take. A batch is (N, H, W, C) on the array side and (N, C, H, W) on the tensor side.

>>> import numpy as np
>>> a = np.zeros((4, 5, 3), np.float32)
>>> t = to_tensor(a)
>>> tuple(t.shape), to_image(t).shape
((3, 4, 5), (4, 5, 3))
>>> tuple(to_tensor(np.zeros((2, 4, 5, 3), np.float32)).shape)
(2, 3, 4, 5)
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["chw_to_hwc", "hwc_to_chw", "to_image", "to_tensor"]


def hwc_to_chw(x: torch.Tensor) -> torch.Tensor:
    """(H, W, C) → (C, H, W), or (N, H, W, C) → (N, C, H, W); a view, no copy."""
    if x.ndim == 3:
        return x.permute(2, 0, 1)
    if x.ndim == 4:
        return x.permute(0, 3, 1, 2)
    raise ValueError(f"image tensor: expected 3 or 4 dimensions (H, W, C), got shape {tuple(x.shape)}")


def chw_to_hwc(x: torch.Tensor) -> torch.Tensor:
    """(C, H, W) → (H, W, C), or (N, C, H, W) → (N, H, W, C); a view, no copy."""
    if x.ndim == 3:
        return x.permute(1, 2, 0)
    if x.ndim == 4:
        return x.permute(0, 2, 3, 1)
    raise ValueError(f"image tensor: expected 3 or 4 dimensions (C, H, W), got shape {tuple(x.shape)}")


def to_tensor(image: np.ndarray, device: str | torch.device | None = None) -> torch.Tensor:
    """An (H, W, C) or (N, H, W, C) array as a contiguous channels-first tensor (on ``device``)."""
    tensor = hwc_to_chw(torch.from_numpy(np.ascontiguousarray(image))).contiguous()
    return tensor if device is None else tensor.to(device)


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """A (C, H, W) or (N, C, H, W) tensor as a contiguous channels-last array on the CPU."""
    return np.ascontiguousarray(chw_to_hwc(tensor.detach()).cpu().numpy())
