"""The kernel stack of :func:`blurkit.ops.convolve.convolve`: conversion, checks, support, valid mask."""

from __future__ import annotations

import numpy as np
import torch


def as_kernel_tensor(
    kernels: torch.Tensor | np.ndarray, device: torch.device | None, dtype: torch.dtype | None
) -> torch.Tensor:
    if isinstance(kernels, np.ndarray):
        if not np.issubdtype(kernels.dtype, np.number) or np.iscomplexobj(kernels):
            raise ValueError(f"kernels: expected a real numeric array, got dtype {kernels.dtype}")
        kern = torch.from_numpy(np.ascontiguousarray(kernels))
    elif isinstance(kernels, torch.Tensor):
        kern = kernels
    else:
        raise TypeError(f"kernels: expected a torch.Tensor or numpy.ndarray, got {type(kernels).__name__}")
    if kern.is_complex():
        raise ValueError(f"kernels: expected a real dtype, got {kern.dtype}")
    if kern.ndim not in (2, 3):
        raise ValueError(f"kernels: expected shape (B, k, k) or (k, k), got {tuple(kern.shape)}")
    if dtype is None:
        dtype = kern.dtype if kern.is_floating_point() else torch.float32
    return kern.to(device=device, dtype=dtype)


def check_kernel_shape(stack: torch.Tensor) -> None:
    kh, kw = stack.shape[-2:]
    if kh != kw:
        raise ValueError(f"kernels: expected square kernels (k, k), got {kh}x{kw}")
    if kh % 2 == 0:
        raise ValueError(f"kernels: kernel size must be odd so that the centre is k // 2, got k={kh}")


def support_bounds(stack: torch.Tensor) -> torch.Tensor:
    """Per-sample support bounds relative to the centre: ``(B, 4)`` = row_min, row_max, col_min, col_max.

    All-zero kernels give row_min = col_min = +inf-like (k) and row_max = col_max = -k, i.e. an empty
    support that reads no pixel.
    """
    k = stack.shape[-1]
    c = k // 2
    nz = stack != 0
    rows = nz.any(dim=-1)  # (B, k)
    cols = nz.any(dim=-2)
    idx = torch.arange(k, device=stack.device) - c
    big = torch.full_like(idx, k)
    rmin = torch.where(rows, idx, big).amin(dim=-1)
    rmax = torch.where(rows, idx, -big).amax(dim=-1)
    cmin = torch.where(cols, idx, big).amin(dim=-1)
    cmax = torch.where(cols, idx, -big).amax(dim=-1)
    return torch.stack([rmin, rmax, cmin, cmax], dim=-1)


def crop_to_support(stack: torch.Tensor) -> torch.Tensor:
    """Crop a ``(B, k, k)`` stack to the smallest centred odd square holding every non-zero entry."""
    from blurkit.ops._blur_np import support_radius

    k = stack.shape[-1]
    if k <= 3:
        return stack
    c = k // 2
    r = support_radius(stack.detach().ne(0).any(dim=0).cpu().numpy())
    if r < 0:
        return stack[:, c : c + 1, c : c + 1]
    return stack if r >= c else stack[:, c - r : c + r + 1, c - r : c + r + 1]


def stack_valid_mask(stack: torch.Tensor, height: int, width: int) -> torch.Tensor:
    bounds = support_bounds(stack)  # (B, 4)
    rmin, rmax, cmin, cmax = (bounds[:, i].view(-1, 1, 1, 1) for i in range(4))
    i = torch.arange(height, device=stack.device).view(1, 1, -1, 1)
    j = torch.arange(width, device=stack.device).view(1, 1, 1, -1)
    # out[i] reads rows i - rmax .. i - rmin; all must lie in [0, H - 1].
    rows_ok = (i - rmax >= 0) & (i - rmin <= height - 1)
    cols_ok = (j - cmax >= 0) & (j - cmin <= width - 1)
    return rows_ok & cols_ok
