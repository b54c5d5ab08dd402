"""The FFT paths of :func:`blurkit.ops.convolve.convolve`: grid sizes, kernel spectra, batched transforms.

The padded image and the kernel's top-left corner both sit at the grid origin; the grid is at least
as large as the padded image, so output pixel ``(i, j)`` is the wrap-free full-convolution sample
``(i + 2 pad, j + 2 pad)``. A kernel wider than the image under ``border="circular"`` is wrapped onto
the image grid instead (exact periodic convolution).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from blurkit.ops import _blur_np
from blurkit.ops.borders import NUMPY_PAD_MODE, TORCH_PAD_MODE


def fast_fft_len(n: int, device: torch.device | str = "cpu") -> int:
    """A length ``>= n`` that the FFT library of ``device`` transforms fast.

    Candidates are the even ``2^a 3^b 5^c 7^d`` (MKL and pocketfft on CPU and cuFFT all have native
    radix-2, 3, 5 and 7 kernels; an even length lets the real transform use its half-length
    complex trick).

    - CUDA: the smallest candidate. Batched cuFFT is bound by memory traffic, so fewer points win
      (H100, 64x3 planes: 750x1344 forward+inverse 4.7 ms, 768x1344 5.2 ms).
    - CPU: candidates up to 10% above ``n``, each odd prime factor charged 10% extra, since the
      CPU libraries are fastest on long radix-2 runs.

    >>> fast_fft_len(750), fast_fft_len(1310), fast_fft_len(1), fast_fft_len(17)
    (768, 1344, 2, 18)
    >>> fast_fft_len(750, "cuda"), fast_fft_len(1310, "cuda")
    (750, 1344)
    """
    return _blur_np.fast_fft_len(n, torch.device(device).type == "cuda")


def pad_to_grid(x: torch.Tensor, pad: int, border: str, fh: int, fw: int) -> torch.Tensor:
    """Pad by ``pad`` with ``border`` (top, left) and fill the rest of an ``fh x fw`` grid in one copy.

    The outputs kept by the FFT path never read grid rows or columns beyond the padded image, so the
    extra area may hold anything: it is filled by continuing the same padding when the mode allows it
    (one copy, cheaper than padding and then zero-filling), with zeros otherwise.
    """
    height, width = x.shape[-2:]
    bottom, right = fh - height - pad, fw - width - pad
    mode = TORCH_PAD_MODE[border]
    limit_h, limit_w = (height - 1, width - 1) if border == "reflect" else (height, width)
    if mode in ("constant", "replicate") or (max(pad, bottom) <= limit_h and max(pad, right) <= limit_w):
        return F.pad(x, (pad, right, pad, bottom), mode=mode)
    xp = F.pad(x, (pad, pad, pad, pad), mode=mode) if pad else x
    return F.pad(xp, (0, fw - xp.shape[-1], 0, fh - xp.shape[-2]))


def kernel_spectrum(stack: torch.Tensor, fh: int, fw: int) -> torch.Tensor:
    """``rfft2`` of each ``(k, k)`` kernel zero-padded to ``fh x fw``, its top-left corner at ``(0, 0)``.

    Only the ``k`` non-zero rows are transformed along the width; the length-``fh`` transform along the
    height then runs on the ``fw // 2 + 1`` frequency columns.
    """
    return torch.fft.fft(torch.fft.rfft(stack, n=fw, dim=-1), n=fh, dim=-2)


def wrapped_kernel_spectrum(stack: torch.Tensor, fh: int, fw: int) -> torch.Tensor:
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


def chunk_size(per_sample: int, chunk_bytes: int) -> int:
    """Whole samples per chunk so that the spectra held at once stay under ``chunk_bytes``."""
    return max(1, chunk_bytes // per_sample)


def fft_scipy_v1(x: torch.Tensor, stack: torch.Tensor, border: str, chunk_bytes: int) -> torch.Tensor:
    """The CPU FFT path of chain 1, through ``scipy.fft`` (pocketfft) on NumPy views; kept unchanged
    so that pairs made with chain 1 regenerate bit for bit.

    Pad to :func:`fast_fft_len` sizes, ``rfft2``, multiply, inverse along the height, then the real
    inverse along the width on the kept rows only.
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
    chunk = chunk_size((2 * channels + 1) * fh * (fw // 2 + 1) * 2 * xn.itemsize, chunk_bytes)
    out = np.empty(xn.shape, dtype=xn.dtype)
    for start in range(0, batch, chunk):
        stop = min(batch, start + chunk)
        # Pad by `pad` and fill the rest of the grid in one pass; rows and columns past the padded
        # image are never read by the kept outputs (see pad_to_grid).
        widths = ((0, 0), (0, 0), (pad, fh - height - pad), (pad, fw - width - pad))
        grid = np.pad(xn[start:stop], widths, mode=NUMPY_PAD_MODE[border])
        spec = scipy.fft.rfft2(grid, workers=workers, overwrite_x=True)
        spec *= spec_k if spec_k.shape[0] == 1 else spec_k[start:stop]
        cols = scipy.fft.ifft(spec, axis=-2, workers=workers, overwrite_x=True)
        rows = scipy.fft.irfft(cols[..., offset : offset + height, :], n=fw, axis=-1, workers=workers)
        out[start:stop] = rows[..., offset : offset + width]
    return torch.from_numpy(out)


def fft_torch(x: torch.Tensor, stack: torch.Tensor, border: str, chunk_bytes: int) -> torch.Tensor:
    """Batched real FFT convolution through ``torch.fft`` (GPU, gradients, periodic wrap), chunked over
    the batch to bound the memory of the spectra."""
    batch, channels, height, width = x.shape
    pad = stack.shape[-1] // 2
    if border == "circular" and pad > min(height, width):
        # Kernel wider than the image: output index i reads x[(i - o) mod H] for kernel offsets o, the
        # centred kernel wrapped onto the image grid (exact periodic convolution).
        fh, fw, pad, offset = height, width, 0, 0
        spectrum = wrapped_kernel_spectrum
    else:
        fh, fw = fast_fft_len(height + 2 * pad, x.device), fast_fft_len(width + 2 * pad, x.device)
        offset = 2 * pad
        spectrum = kernel_spectrum
    complex_bytes = 2 * torch.finfo(x.dtype).bits // 8
    chunk = chunk_size((2 * channels + 1) * fh * (fw // 2 + 1) * complex_bytes, chunk_bytes)
    shared_spec = spectrum(stack, fh, fw) if stack.shape[0] == 1 else None
    out = torch.empty_like(x)
    for start in range(0, batch, chunk):
        stop = min(batch, start + chunk)
        spec_x = torch.fft.rfft2(pad_to_grid(x[start:stop], pad, border, fh, fw))
        spec_k = shared_spec if shared_spec is not None else spectrum(stack[start:stop], fh, fw)
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


def fft_cpu(x: torch.Tensor, stack: torch.Tensor, border: str, chunk_bytes: int) -> torch.Tensor:
    """The CPU FFT path without autograd: :func:`blurkit.ops._blur_np.fft_planes` on NumPy views."""
    workers = max(1, torch.get_num_threads())
    out = _blur_np.fft_planes(x.detach().numpy(), stack.detach().numpy(), border, chunk_bytes, workers)
    return torch.from_numpy(np.ascontiguousarray(out))
