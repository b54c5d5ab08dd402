"""Batched 2-D convolution of images with per-sample blur kernels (direct or FFT, CPU or GPU).

This is the one place where blurkit applies a point-spread function to an image. It computes a
*true* convolution (the kernel is flipped relative to correlation), with the kernel centre at index
``k // 2``, an explicit border mode, and an output of the same size as the input. The whole batch is
handled in one call: the direct path is a single grouped ``conv2d`` and the FFT path a batched
``rfft2``/``irfft2``; no Python loop runs over the samples (a large batch is cut into a few chunks
only to bound memory).

Border modes (``border``), each a padding by ``k // 2`` pixels on every side, are listed in
:mod:`blurkit.ops.borders`.

Choosing the method: ``method="auto"`` uses the direct path for kernels smaller than
:data:`FFT_CROSSOVER_CPU` (on CPU) or :data:`FFT_CROSSOVER_CUDA` (on GPU) and the FFT path otherwise.
Both paths agree to float32 rounding. Before either runs, the kernel stack is cropped to the smallest
centred square that holds every sample's non-zero support, so a 63x63 canvas holding a 21x21 blur costs
what a 21x21 kernel costs. The FFT path runs through ``torch.fft`` on GPU and whenever a gradient is
needed, and through ``scipy.fft`` on CPU otherwise (same arithmetic, steadier on a busy CPU). Results
are float32 for float32 input; float16/bfloat16 are computed in float32 and cast back.

Example:
    >>> import torch
    >>> img = torch.zeros(1, 1, 5, 5)
    >>> img[0, 0, 2, 2] = 1.0
    >>> k = torch.zeros(3, 3)
    >>> k[1, 2] = 1.0  # one pixel right of the centre
    >>> out = convolve(img, k, border="zero")
    >>> out[0, 0, 2].tolist()  # the impulse moved one pixel to the right
    [0.0, 0.0, 0.0, 1.0, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args, overload

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from blurkit.ops import _fft
from blurkit.ops._fft import fast_fft_len
from blurkit.ops._support import as_kernel_tensor, check_kernel_shape, crop_to_support, stack_valid_mask
from blurkit.ops.borders import BORDERS, TORCH_PAD_MODE, BorderMode

__all__ = [
    "BORDERS",
    "FFT_CROSSOVER_CPU",
    "FFT_CROSSOVER_CUDA",
    "Convolve",
    "ConvolveConfig",
    "convolve",
    "fast_fft_len",
    "fft_crossover",
    "valid_mask",
]

Method = Literal["auto", "direct", "fft"]

_METHODS: tuple[str, ...] = get_args(Method)

#: Smallest (cropped) kernel sizes for which ``method="auto"`` takes the FFT path, on CPU and on
#: CUDA (``python -m benchmarks.speed_blur --crossover``; measurements in ``benchmarks/RESULTS.md``).
FFT_CROSSOVER_CPU: int = 9
FFT_CROSSOVER_CUDA: int = 9

#: Run the CPU FFT path through ``scipy.fft`` when no gradient is needed; set to False to always use
#: ``torch.fft``.
_NUMPY_FFT: bool = True

#: Upper bound, in bytes, of the complex spectra held at once by the FFT path; a larger batch is
#: processed in chunks of whole samples.
FFT_CHUNK_BYTES: int = 1 << 30


@dataclass(frozen=True)
class ConvolveConfig:
    """Settings of :class:`Convolve` (and of :func:`convolve` calls made on its behalf).

    Attributes:
        border: Border mode: ``"reflect"``, ``"replicate"``, ``"zero"`` or ``"circular"``.
        method: ``"auto"``, ``"direct"`` or ``"fft"``.
    """

    border: BorderMode = "reflect"
    method: Method = "auto"

    def __post_init__(self) -> None:
        _check_choice("border", self.border, BORDERS)
        _check_choice("method", self.method, _METHODS)


class Convolve(nn.Module):
    """Thin ``nn.Module`` around :func:`convolve`; its settings live in a :class:`ConvolveConfig`.

    Args:
        border: Border mode, see :func:`convolve`.
        method: ``"auto"``, ``"direct"`` or ``"fft"``.

    Example:
        >>> import torch
        >>> blur = Convolve(border="replicate")
        >>> blur(torch.ones(2, 3, 8, 8), torch.full((2, 3, 3), 1 / 9)).shape
        torch.Size([2, 3, 8, 8])
    """

    def __init__(self, border: BorderMode = "reflect", method: Method = "auto") -> None:
        super().__init__()
        self.config = ConvolveConfig(border=border, method=method)

    def forward(self, images: torch.Tensor, kernels: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Blur ``images`` with ``kernels``; see :func:`convolve`."""
        return convolve(images, kernels, border=self.config.border, method=self.config.method)

    def extra_repr(self) -> str:
        return f"border={self.config.border!r}, method={self.config.method!r}"


def fft_crossover(device: torch.device | str) -> int:
    """Kernel size from which ``method="auto"`` uses the FFT on ``device``.

    >>> fft_crossover("cpu") == FFT_CROSSOVER_CPU
    True
    """
    return FFT_CROSSOVER_CUDA if torch.device(device).type == "cuda" else FFT_CROSSOVER_CPU


def valid_mask(kernels: torch.Tensor | np.ndarray, height: int, width: int) -> torch.Tensor:
    """Where a convolution with each kernel reads only real pixels (no border padding).

    Uses each kernel's non-zero bounding box relative to its centre ``k // 2``: a pixel is valid when
    every input pixel under the kernel's support lies inside the image. An all-zero kernel reads
    nothing, so its mask is all True.

    Args:
        kernels: ``(B, k, k)`` or ``(k, k)`` kernels, ``k`` odd.
        height: Image height ``H``.
        width: Image width ``W``.

    Returns:
        Bool tensor ``(B, 1, H, W)`` (``B = 1`` for a single kernel) on the kernels' device.

    Example:
        >>> k = torch.zeros(5, 5)
        >>> k[2, 2:] = 1.0  # support from 0 to +2 columns right of the centre
        >>> valid_mask(k, 3, 6)[0, 0, 0].tolist()
        [False, False, True, True, True, True]
    """
    kern = as_kernel_tensor(kernels, None, None)
    if kern.ndim == 2:
        kern = kern.unsqueeze(0)
    check_kernel_shape(kern)
    return stack_valid_mask(kern, height, width)


@overload
def convolve(
    images: torch.Tensor,
    kernels: torch.Tensor | np.ndarray,
    border: BorderMode = ...,
    method: Method = ...,
    return_mask: Literal[False] = ...,
) -> torch.Tensor: ...


@overload
def convolve(
    images: torch.Tensor,
    kernels: torch.Tensor | np.ndarray,
    border: BorderMode = ...,
    method: Method = ...,
    *,
    return_mask: Literal[True],
) -> tuple[torch.Tensor, torch.Tensor]: ...


@overload
def convolve(
    images: torch.Tensor,
    kernels: torch.Tensor | np.ndarray,
    border: BorderMode,
    method: Method,
    return_mask: Literal[True],
) -> tuple[torch.Tensor, torch.Tensor]: ...


@overload
def convolve(
    images: torch.Tensor,
    kernels: torch.Tensor | np.ndarray,
    border: BorderMode = ...,
    method: Method = ...,
    return_mask: bool = ...,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]: ...


def convolve(
    images: torch.Tensor,
    kernels: torch.Tensor | np.ndarray,
    border: BorderMode = "reflect",
    method: Method = "auto",
    return_mask: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Convolve each image of a batch with its own blur kernel (true convolution, same-size output).

    ``out[b, c, i, j] = sum_{u,v} kernels[b, u, v] * padded[b, c, i - (u - k//2), j - (v - k//2)]``

    Args:
        images: ``(B, C, H, W)``, ``(C, H, W)`` or ``(H, W)`` floating tensor. float32 and float64
            are computed in their own precision; float16/bfloat16 are computed in float32 and cast
            back.
        kernels: ``(B, k, k)`` per-sample kernels or ``(k, k)`` shared by the batch, ``k`` odd;
            a torch tensor or a NumPy array (moved to the images' device and dtype). Unbatched images
            count as a batch of one.
        border: ``"reflect"`` (NumPy ``"reflect"``, edge not repeated), ``"replicate"``, ``"zero"``
            or ``"circular"`` (exact periodic convolution); see the module docstring.
        method: ``"direct"`` (grouped ``conv2d``), ``"fft"`` (batched ``rfft2``) or ``"auto"``
            (direct below :func:`fft_crossover` for the device, FFT from it on).
        return_mask: Also return the valid-region mask.

    Returns:
        The blurred images, same shape, dtype and device as ``images``. With ``return_mask``, also a
        bool mask, True where the output read only real pixels (each sample's kernel support,
        not just ``k``, decides): ``(B, 1, H, W)`` for batched images, ``(1, H, W)`` for
        ``(C, H, W)`` images and ``(H, W)`` for ``(H, W)`` images, so it broadcasts against the output.

    Raises:
        ValueError: on a wrong ``images``/``kernels`` shape, an even or non-square kernel, a batch
            mismatch, a non-floating dtype, a kernel too large for ``border="reflect"``
            (``k // 2`` of the cropped kernel must be smaller than ``H`` and ``W``), or an unknown
            ``border``/``method``.
        TypeError: when ``images`` is not a tensor or ``kernels`` neither a tensor nor an array.

    Example:
        >>> import torch
        >>> x = torch.rand(2, 3, 16, 24)
        >>> k = torch.full((2, 5, 5), 1 / 25)
        >>> torch.allclose(convolve(x, k, method="direct"), convolve(x, k, method="fft"), atol=1e-5)
        True
    """
    _check_choice("border", border, BORDERS)
    _check_choice("method", method, _METHODS)
    x, stack, shared = _prepare(images, kernels, border)
    out = _blur(x, stack, border, method, FFT_CROSSOVER_CUDA if x.device.type == "cuda" else FFT_CROSSOVER_CPU)
    out = out.to(images.dtype).reshape(images.shape)
    if not return_mask:
        return out
    return out, _mask_like(stack, images.ndim, x.shape, shared)


def convolve_chain1(images: torch.Tensor, kernels: torch.Tensor | np.ndarray, border: str) -> torch.Tensor:
    """:func:`convolve` with ``method="auto"`` as chain 1 of the degradation chain ran it (crossover 9,
    the FFT path of :func:`blurkit.ops._fft.fft_scipy_v1` on CPU); its bytes must never change."""
    _check_choice("border", border, BORDERS)
    x, stack, _ = _prepare(images, kernels, border)
    return _blur(x, stack, border, "auto", 9, chain1=True).to(images.dtype).reshape(images.shape)


# ----------------------------------------------------------------------------------------------------
# helpers


def _prepare(
    images: torch.Tensor, kernels: torch.Tensor | np.ndarray, border: str
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Checked ``(B, C, H, W)`` images, the kernel stack cropped to its support (in the compute dtype),
    and whether one kernel is shared by the batch."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images: expected a torch.Tensor, got {type(images).__name__}")
    if images.ndim not in (2, 3, 4):
        raise ValueError(
            f"images: expected shape (B, C, H, W), (C, H, W) or (H, W), got {tuple(images.shape)}"
        )
    if not (images.is_floating_point()):
        raise ValueError(f"images: expected a floating dtype, got {images.dtype}")
    x = images.reshape((1,) * (4 - images.ndim) + tuple(images.shape))
    batch, _, height, width = x.shape
    kern = as_kernel_tensor(kernels, x.device, _compute_dtype(x.dtype, x.device))
    if kern.ndim == 3 and kern.shape[0] != batch:
        raise ValueError(
            f"kernels: got {kern.shape[0]} kernels for a batch of {batch} images; pass one kernel per "
            "image (B, k, k) or one shared (k, k) kernel"
        )
    stack = kern if kern.ndim == 3 else kern.unsqueeze(0)
    check_kernel_shape(stack)
    stack = crop_to_support(stack)
    k = stack.shape[-1]
    if border == "reflect" and k // 2 >= min(height, width):
        raise ValueError(
            f"kernels: size {k} (after cropping to the support) is too large for border='reflect' on a "
            f"{height}x{width} image; reflect padding needs k // 2 < min(H, W)"
        )
    return x, stack, kern.ndim == 2


def _blur(
    x: torch.Tensor, stack: torch.Tensor, border: str, method: str, crossover: int, chain1: bool = False
) -> torch.Tensor:
    """Run the chosen path on checked inputs (result in the compute dtype)."""
    height, width = x.shape[-2:]
    k = stack.shape[-1]
    if method == "auto":
        method = "fft" if k >= crossover else "direct"
    compute_dtype = _compute_dtype(x.dtype, x.device)
    xc = x if x.dtype == compute_dtype else x.to(compute_dtype)
    if k == 1:
        return xc * stack.reshape(-1, 1, 1, 1)
    periodic = border == "circular" and k // 2 > min(height, width)
    if method == "direct" and not periodic:
        return _convolve_direct(xc, stack, border)
    needs_grad = torch.is_grad_enabled() and (xc.requires_grad or stack.requires_grad)
    if xc.device.type == "cpu" and not periodic and not needs_grad and (_NUMPY_FFT or chain1):
        if chain1:
            return _fft.fft_scipy_v1(xc, stack, border, FFT_CHUNK_BYTES)
        return _fft.fft_cpu(xc, stack, border, FFT_CHUNK_BYTES)
    return _fft.fft_torch(xc, stack, border, FFT_CHUNK_BYTES)


def _mask_like(stack: torch.Tensor, in_ndim: int, shape: torch.Size, shared: bool) -> torch.Tensor:
    """The valid-region mask of :func:`convolve`, shaped to broadcast against its output."""
    batch, _, height, width = shape
    mask = stack_valid_mask(stack, height, width)
    if shared and batch > 1:
        mask = mask.expand(batch, 1, height, width)
    return mask.reshape(mask.shape[4 - in_ndim :]) if in_ndim < 4 else mask


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: unknown value {value!r}; expected one of {', '.join(map(repr, allowed))}")


def _compute_dtype(dtype: torch.dtype, device: torch.device) -> torch.dtype:
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return dtype


def _pad(x: torch.Tensor, pad: int, border: str) -> torch.Tensor:
    if pad == 0:
        return x
    return F.pad(x, (pad, pad, pad, pad), mode=TORCH_PAD_MODE[border])


def _convolve_direct(x: torch.Tensor, stack: torch.Tensor, border: str) -> torch.Tensor:
    """One grouped ``conv2d`` over the whole batch (the kernel is flipped: conv2d correlates)."""
    batch, channels, height, width = x.shape
    k = stack.shape[-1]
    weight = stack.flip(-1, -2)
    xp = _pad(x, k // 2, border)
    if stack.shape[0] == 1:
        # Shared kernel: one depthwise convolution over the channels (oneDNN runs a depthwise
        # convolution 3-4x faster than a single-channel convolution over a batch of channel planes).
        w = weight.unsqueeze(1).expand(channels, 1, k, k).contiguous()
        out = F.conv2d(xp, w, groups=channels)
    else:
        w = weight.unsqueeze(1).expand(batch, channels, k, k).reshape(batch * channels, 1, k, k)
        out = F.conv2d(xp.reshape(1, batch * channels, *xp.shape[-2:]), w, groups=batch * channels)
    return out.reshape(batch, channels, height, width)
