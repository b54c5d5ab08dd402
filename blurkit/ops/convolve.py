"""Batched 2-D convolution of images with per-sample blur kernels (direct or FFT, CPU or GPU).

This is the one place where blurkit applies a point-spread function to an image. It computes a
*true* convolution (the kernel is flipped relative to correlation), with the kernel centre at index
``k // 2``, an explicit border mode, and an output of the same size as the input. The whole batch is
handled in one call: the direct path is a single grouped ``conv2d`` and the FFT path a batched
``rfft2``/``irfft2``; no Python loop runs over the samples (a large batch is cut into a few chunks
only to bound memory).

Border modes (``border``), each a padding by ``k // 2`` pixels on every side:

=============  ======================================  ===============================
``border``     padded row ``a b c d``                   NumPy ``np.pad`` mode
=============  ======================================  ===============================
"reflect"      ``c b | a b c d | c b`` (edge not        ``"reflect"`` (torch ``"reflect"``,
               repeated)                                OpenCV ``BORDER_REFLECT_101``)
"replicate"    ``a a | a b c d | d d``                  ``"edge"``
"zero"         ``0 0 | a b c d | 0 0``                  ``"constant"``
"circular"     ``c d | a b c d | a b``                  ``"wrap"`` (exact periodic convolution)
=============  ======================================  ===============================

NumPy's ``"symmetric"`` mode (``b a | a b c d | d c``, edge repeated) is *not* what ``"reflect"`` means
here.

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

__all__ = [
    "FFT_CROSSOVER_CPU",
    "FFT_CROSSOVER_CUDA",
    "Convolve",
    "ConvolveConfig",
    "convolve",
    "fast_fft_len",
    "fft_crossover",
    "valid_mask",
]

BorderMode = Literal["reflect", "replicate", "zero", "circular"]
Method = Literal["auto", "direct", "fft"]

_BORDERS: tuple[str, ...] = get_args(BorderMode)
_METHODS: tuple[str, ...] = get_args(Method)
_TORCH_PAD_MODE = {"reflect": "reflect", "replicate": "replicate", "zero": "constant", "circular": "circular"}

#: Smallest (cropped) kernel size for which ``method="auto"`` takes the FFT path on CPU.
#:
#: Measured with ``python -m benchmarks.speed_blur --crossover`` on a 2-core x86-64 CPU (AVX2, PyTorch
#: 2.x with oneDNN for the direct path, scipy.fft for the FFT path, 2 threads): one RGB 1280x720
#: float32 image, per-sample kernels of odd size 3 to 31, the two methods alternating call by call,
#: median of the per-call ratios. The direct (depthwise oneDNN) convolution grows with k^2 and the FFT
#: cost is flat in k; direct/FFT time ratios were 0.78, 0.67, 0.71 at k = 3, 5, 7 and 1.16, 1.25,
#: 1.74, 2.1, 3.2, 6.8 at k = 9, 11, 13, 15, 21, 31, so FFT wins from k = 9. (The machine was shared
#: and loaded while measuring; absolute times were 2-5x the idle ones, the ratios less affected.)
FFT_CROSSOVER_CPU: int = 9

#: Smallest (cropped) kernel size for which ``method="auto"`` takes the FFT path on CUDA.
#:
#: Measured on one H100 (PyTorch 2.11, cuDNN, cuFFT) with ``python -m benchmarks.speed_blur
#: --device cuda --crossover``: a batch of 32 RGB 1280x720 float32 images with per-sample kernels,
#: median of 7 calls after a warm-up. cuDNN's grouped (depthwise) convolution grows with k^2
#: (3.8 ms at k=7, 4.9 ms at k=9, 6.2 ms at k=11, 28 ms at k=31) while the batched cuFFT path stays
#: at 4.1-4.7 ms, so FFT wins from k=9 (in two runs of three; the third, with other FFT sizes, put
#: the crossover at 11). A single image is dominated by launch overhead and crosses later (about
#: k=21), but batches are what the GPU path is for.
FFT_CROSSOVER_CUDA: int = 9

#: Run the CPU FFT path through ``scipy.fft`` when no gradient is needed (see ``_convolve_fft_numpy``);
#: set to False to always use ``torch.fft``.
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
        _check_choice("border", self.border, _BORDERS)
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


def fast_fft_len(n: int, device: torch.device | str = "cpu") -> int:
    """A length ``>= n`` that the FFT library of ``device`` transforms fast.

    Candidates are the even ``2^a 3^b 5^c 7^d`` (MKL on CPU and cuFFT both have native radix-2, 3, 5
    and 7 kernels; an even length lets the real transform use its half-length complex trick).

    - CUDA: the smallest candidate. Batched cuFFT is bound by memory traffic, so fewer points win
      (H100, 64x3 planes: 750x1344 forward+inverse 4.7 ms, 768x1344 5.2 ms).
    - CPU: candidates up to 10% above ``n``, each odd prime factor charged 10% extra, since MKL is
      fastest on long radix-2 runs (2 cores: 3x768x1344 about 15% faster than 3x750x1344).

    >>> fast_fft_len(750), fast_fft_len(1310), fast_fft_len(1), fast_fft_len(17)
    (768, 1344, 2, 18)
    >>> fast_fft_len(750, "cuda"), fast_fft_len(1310, "cuda")
    (750, 1344)
    """
    if n <= 2:
        return 2
    penalty = 0.0 if torch.device(device).type == "cuda" else 0.1
    best, best_cost = 0, float("inf")
    m = n + (n % 2)
    while best == 0 or (penalty and m <= max(n * 1.1, n + 16)):
        r, odd = m, 0
        for p in (2, 3, 5, 7):
            while r % p == 0:
                r //= p
                odd += p != 2
        if r == 1 and m * (1 + penalty * odd) < best_cost:
            best, best_cost = m, m * (1 + penalty * odd)
        m += 2
    return best


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
    kern = _as_kernel_tensor(kernels, None, None)
    if kern.ndim == 2:
        kern = kern.unsqueeze(0)
    _check_kernel_shape(kern)
    return _valid_mask(kern, height, width)


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
    _check_choice("border", border, _BORDERS)
    _check_choice("method", method, _METHODS)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images: expected a torch.Tensor, got {type(images).__name__}")
    if images.ndim not in (2, 3, 4):
        raise ValueError(
            f"images: expected shape (B, C, H, W), (C, H, W) or (H, W), got {tuple(images.shape)}"
        )
    if not (images.is_floating_point()):
        raise ValueError(f"images: expected a floating dtype, got {images.dtype}")
    in_ndim = images.ndim
    x = images.reshape((1,) * (4 - in_ndim) + tuple(images.shape))
    batch, _, height, width = x.shape

    compute_dtype = _compute_dtype(x.dtype, x.device)
    kern = _as_kernel_tensor(kernels, x.device, compute_dtype)
    if kern.ndim == 3 and kern.shape[0] != batch:
        raise ValueError(
            f"kernels: got {kern.shape[0]} kernels for a batch of {batch} images; pass one kernel per "
            "image (B, k, k) or one shared (k, k) kernel"
        )
    _check_kernel_shape(kern if kern.ndim == 3 else kern.unsqueeze(0))
    stack = kern if kern.ndim == 3 else kern.unsqueeze(0)

    stack = _crop_to_support(stack)
    k = stack.shape[-1]
    pad = k // 2
    if border == "reflect" and pad >= min(height, width):
        raise ValueError(
            f"kernels: size {k} (after cropping to the support) is too large for border='reflect' on a "
            f"{height}x{width} image; reflect padding needs k // 2 < min(H, W)"
        )

    if method == "auto":
        method = "fft" if k >= fft_crossover(x.device) else "direct"
    periodic_wrap = border == "circular" and pad > min(height, width)

    xc = x if x.dtype == compute_dtype else x.to(compute_dtype)
    if k == 1:
        out = xc * stack.reshape(-1, 1, 1, 1)
    elif method == "fft" or periodic_wrap:
        out = _convolve_fft(xc, stack, border)
    else:
        out = _convolve_direct(xc, stack, border)
    out = out.to(images.dtype).reshape(images.shape)

    if not return_mask:
        return out
    mask = _valid_mask(stack, height, width)
    if kern.ndim == 2 and batch > 1:
        mask = mask.expand(batch, 1, height, width)
    mask = mask.reshape(mask.shape[4 - in_ndim :]) if in_ndim < 4 else mask
    return out, mask


# ----------------------------------------------------------------------------------------------------
# helpers


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: unknown value {value!r}; expected one of {', '.join(map(repr, allowed))}")


def _compute_dtype(dtype: torch.dtype, device: torch.device) -> torch.dtype:
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return dtype


def _as_kernel_tensor(
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


def _check_kernel_shape(stack: torch.Tensor) -> None:
    kh, kw = stack.shape[-2:]
    if kh != kw:
        raise ValueError(f"kernels: expected square kernels (k, k), got {kh}x{kw}")
    if kh % 2 == 0:
        raise ValueError(f"kernels: kernel size must be odd so that the centre is k // 2, got k={kh}")


def _support_radius(stack: torch.Tensor) -> torch.Tensor:
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


def _crop_to_support(stack: torch.Tensor) -> torch.Tensor:
    """Crop a ``(B, k, k)`` stack to the smallest centred odd square holding every non-zero entry."""
    k = stack.shape[-1]
    if k <= 3:
        return stack
    nz = stack.detach().ne(0).any(dim=0)
    if not bool(nz.any()):
        return stack[:, k // 2 : k // 2 + 1, k // 2 : k // 2 + 1]
    rows = torch.nonzero(nz.any(dim=1)).flatten()
    cols = torch.nonzero(nz.any(dim=0)).flatten()
    c = k // 2
    r = int(torch.stack([c - rows.min(), rows.max() - c, c - cols.min(), cols.max() - c]).max().item())
    if r >= c:
        return stack
    return stack[:, c - r : c + r + 1, c - r : c + r + 1]


def _valid_mask(stack: torch.Tensor, height: int, width: int) -> torch.Tensor:
    bounds = _support_radius(stack)  # (B, 4)
    rmin, rmax, cmin, cmax = (bounds[:, i].view(-1, 1, 1, 1) for i in range(4))
    i = torch.arange(height, device=stack.device).view(1, 1, -1, 1)
    j = torch.arange(width, device=stack.device).view(1, 1, 1, -1)
    # out[i] reads rows i - rmax .. i - rmin; all must lie in [0, H - 1].
    rows_ok = (i - rmax >= 0) & (i - rmin <= height - 1)
    cols_ok = (j - cmax >= 0) & (j - cmin <= width - 1)
    return rows_ok & cols_ok


def _pad(x: torch.Tensor, pad: int, border: str) -> torch.Tensor:
    if pad == 0:
        return x
    return F.pad(x, (pad, pad, pad, pad), mode=_TORCH_PAD_MODE[border])


def _pad_to_grid(x: torch.Tensor, pad: int, border: str, fh: int, fw: int) -> torch.Tensor:
    """Pad by ``pad`` with ``border`` (top, left) and fill the rest of an ``fh x fw`` grid in one copy.

    The outputs kept by the FFT path never read grid rows or columns beyond the padded image, so the
    extra area may hold anything: it is filled by continuing the same padding when the mode allows it
    (one copy, cheaper than padding and then zero-filling), with zeros otherwise.
    """
    height, width = x.shape[-2:]
    bottom, right = fh - height - pad, fw - width - pad
    mode = _TORCH_PAD_MODE[border]
    limit_h, limit_w = (height - 1, width - 1) if border == "reflect" else (height, width)
    if mode in ("constant", "replicate") or (max(pad, bottom) <= limit_h and max(pad, right) <= limit_w):
        return F.pad(x, (pad, right, pad, bottom), mode=mode)
    xp = _pad(x, pad, border)
    return F.pad(xp, (0, fw - xp.shape[-1], 0, fh - xp.shape[-2]))


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


def _kernel_spectrum(stack: torch.Tensor, fh: int, fw: int) -> torch.Tensor:
    """``rfft2`` of each ``(k, k)`` kernel zero-padded to ``fh x fw``, its top-left corner at ``(0, 0)``.

    Only the ``k`` non-zero rows are transformed along the width; the length-``fh`` transform along the
    height then runs on the ``fw // 2 + 1`` frequency columns.
    """
    return torch.fft.fft(torch.fft.rfft(stack, n=fw, dim=-1), n=fh, dim=-2)


def _wrapped_kernel_spectrum(stack: torch.Tensor, fh: int, fw: int) -> torch.Tensor:
    """``rfft2`` of each kernel wrapped onto an ``fh x fw`` torus with its centre at ``(0, 0)``.

    Kernel taps that fall outside the grid alias (add up) modulo the grid size, which is exactly what a
    periodic convolution with a kernel larger than the image means.
    """
    batch, k = stack.shape[0], stack.shape[-1]
    offs = torch.arange(k, device=stack.device) - k // 2
    rows = (offs % fh).view(-1, 1)
    cols = (offs % fw).view(1, -1)
    flat = (rows * fw + cols).reshape(-1)
    grid = stack.new_zeros(batch, fh * fw)
    grid.index_add_(1, flat, stack.reshape(batch, k * k))
    return torch.fft.rfft2(grid.view(batch, fh, fw))


_NumpyPadMode = Literal["reflect", "edge", "constant", "wrap"]
_NUMPY_PAD_MODE: dict[str, _NumpyPadMode] = {
    "reflect": "reflect",
    "replicate": "edge",
    "zero": "constant",
    "circular": "wrap",
}


def _convolve_fft_numpy(x: torch.Tensor, stack: torch.Tensor, border: str) -> torch.Tensor:
    """The FFT path on CPU without autograd, through ``scipy.fft`` (pocketfft) on NumPy views.

    Same arithmetic as the torch path. On a 2-core machine it is about as fast as MKL through
    ``torch.fft`` when the machine is idle, and two to three times faster when other processes compete
    for the cores: pocketfft's worker threads and NumPy's single-threaded element-wise passes do not
    stall on OpenMP barriers the way a sequence of short parallel torch operations does.
    """
    import scipy.fft

    batch, channels, height, width = x.shape
    pad = stack.shape[-1] // 2
    fh, fw = fast_fft_len(height + 2 * pad), fast_fft_len(width + 2 * pad)
    offset = 2 * pad
    workers = max(1, torch.get_num_threads())
    xn = x.detach().numpy()
    kn = stack.detach().numpy()
    spec_k = scipy.fft.fft(scipy.fft.rfft(kn, n=fw, axis=-1), n=fh, axis=-2)[:, None]
    per_sample = (2 * channels + 1) * fh * (fw // 2 + 1) * 2 * xn.itemsize
    chunk = max(1, FFT_CHUNK_BYTES // per_sample)
    out = np.empty(xn.shape, dtype=xn.dtype)
    for start in range(0, batch, chunk):
        stop = min(batch, start + chunk)
        # Pad by `pad` and fill the rest of the grid in one pass; rows and columns past the padded
        # image are never read by the kept outputs (see _pad_to_grid).
        widths = ((0, 0), (0, 0), (pad, fh - height - pad), (pad, fw - width - pad))
        grid = np.pad(xn[start:stop], widths, mode=_NUMPY_PAD_MODE[border])
        spec = scipy.fft.rfft2(grid, workers=workers, overwrite_x=True)
        spec *= spec_k if spec_k.shape[0] == 1 else spec_k[start:stop]
        cols = scipy.fft.ifft(spec, axis=-2, workers=workers, overwrite_x=True)
        rows = scipy.fft.irfft(cols[..., offset : offset + height, :], n=fw, axis=-1, workers=workers)
        out[start:stop] = rows[..., offset : offset + width]
    return torch.from_numpy(out)


def _convolve_fft(x: torch.Tensor, stack: torch.Tensor, border: str) -> torch.Tensor:
    """Batched real FFT convolution, chunked over the batch to bound the memory of the spectra."""
    batch, channels, height, width = x.shape
    k = stack.shape[-1]
    pad = k // 2
    periodic = border == "circular" and pad > min(height, width)
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or stack.requires_grad)
    if x.device.type == "cpu" and not periodic and not needs_grad and _NUMPY_FFT:
        return _convolve_fft_numpy(x, stack, border)
    if periodic:
        # Kernel wider than the image: wrap the kernel onto the image grid (exact periodic convolution).
        fh, fw, pad = height, width, 0
    else:
        fh, fw = fast_fft_len(height + 2 * pad, x.device), fast_fft_len(width + 2 * pad, x.device)
    if periodic:
        # Output index i reads x[(i - o) mod H] for kernel offsets o: the centred kernel on the image grid.
        def spectrum(kern: torch.Tensor) -> torch.Tensor:
            return _wrapped_kernel_spectrum(kern, fh, fw)

        offset = 0
    else:
        # The padded image sits at the grid origin and the kernel's top-left corner too; the grid is
        # at least as large as the padded image, so output pixel (i, j) is the wrap-free full-convolution
        # sample (i + 2 pad, j + 2 pad).
        def spectrum(kern: torch.Tensor) -> torch.Tensor:
            return _kernel_spectrum(kern, fh, fw)

        offset = 2 * pad
    complex_bytes = 2 * torch.finfo(x.dtype).bits // 8
    per_sample = (2 * channels + 1) * fh * (fw // 2 + 1) * complex_bytes
    chunk = max(1, FFT_CHUNK_BYTES // per_sample)
    shared_spec = spectrum(stack) if stack.shape[0] == 1 else None
    out = torch.empty_like(x)
    for start in range(0, batch, chunk):
        stop = min(batch, start + chunk)
        spec_x = torch.fft.rfft2(_pad_to_grid(x[start:stop], pad, border, fh, fw))
        spec_k = shared_spec if shared_spec is not None else spectrum(stack[start:stop])
        spec_x.mul_(spec_k.unsqueeze(1))
        if x.device.type == "cpu":
            # Inverse along the height, then the real inverse along the width on the kept rows only
            # (MKL: as fast as irfft2 or faster; on CUDA the extra gather costs more than it saves).
            cols = torch.fft.ifft(spec_x, dim=-2)
            y = torch.fft.irfft(cols[..., offset : offset + height, :], n=fw, dim=-1)
            out[start:stop] = y[..., offset : offset + width]
        else:
            y = torch.fft.irfft2(spec_x, s=(fh, fw))
            out[start:stop] = y[..., offset : offset + height, offset : offset + width]
    return out
