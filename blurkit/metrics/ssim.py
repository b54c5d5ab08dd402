"""Structural similarity (SSIM) with named variants, batched, on CPU or GPU.

Always name the variant: on the same pair they differ by up to ~0.08.

* ``"skimage"`` — ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255, channel_axis=-1)``: an 11×11 Gaussian window
  (σ = 1.5, radius ``int(3.5·σ + 0.5) = 5``) per channel, the 5-pixel border of the SSIM map dropped,
  the mean taken over the remaining pixels of every channel. Used by Nah et al. (GoPro) and
  RealBlur-style Python evaluations.
* ``"matlab3d"`` — MATLAB's ``ssim(A, ref)`` on an M×N×3 array, which treats it as a volume: a 3-D
  Gaussian filter (``imgaussfilt3``, σ = 1.5, 11×11×11, ``'replicate'`` padding) mixes the three
  channels too, no border is dropped, and the mean runs over every voxel. Behind the MPRNet,
  Restormer and NAFNet GoPro numbers (their MATLAB evaluation scripts call ``ssim`` on RGB uint8).
* ``"skimage_y"`` / ``"matlab_y"`` — the same two windows on the studio-range BT.601 Y channel
  (:func:`blurkit.metrics.color.y_bt601`); ``matlab_y`` is MATLAB's 2-D ``ssim`` on Y.

Constants are ``C1 = (0.01·255)²`` and ``C2 = (0.03·255)²`` with population (not sample) covariances.

Implementation: the five local moments of the usual formula are replaced by four of the sum and
difference images ``s = x + y − 255`` and ``d = x − y`` (``2 µx µy = (µs² − µd²)/2`` etc.), which
saves a filter pass and keeps the cancellation-prone variance terms small. The separable Gaussian
runs as grouped ``conv2d`` in torch on GPU tensors; on CPU tensors it runs through OpenCV's
``sepFilter2D`` with the pointwise work fused in Numba loops (``_ssim_cpu.py``), several times faster
than torch's CPU kernels for this job. The
filter arithmetic is float32 by default (within 1e-5 of float64 on natural images) and float64 with
``precision="float64"``; the mean is accumulated in float64.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from blurkit.metrics._input import PEAK, finish, prepare, uint8_numpy_pair
from blurkit.metrics.color import y_bt601
from blurkit.tensors import chw_to_hwc

SSIM_VARIANTS = ("skimage", "matlab3d", "skimage_y", "matlab_y")
SIGMA = 1.5
RADIUS = 5  # int(3.5 * 1.5 + 0.5) for skimage; ceil(3 * 1.5) for MATLAB's ssim: both 5
K1, K2 = 0.01, 0.03


@lru_cache(maxsize=8)
def _taps64(sigma: float = SIGMA, radius: int = RADIUS) -> np.ndarray:
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (t / sigma) ** 2)
    return w / w.sum()


def gaussian_taps(sigma: float = SIGMA, radius: int = RADIUS) -> np.ndarray:
    """Normalised 1-D Gaussian taps ``exp(-t²/2σ²)``, ``t = -radius..radius``, float64."""
    return _taps64(float(sigma), int(radius)).copy()


def channel_mixing_matrix(channels: int, sigma: float = SIGMA, radius: int = RADIUS) -> np.ndarray:
    """The Gaussian filter along the channel axis with ``'replicate'`` padding, as a (C, C) matrix.

    Row ``c`` holds the weight each input channel gets in output channel ``c``: tap ``k`` reads
    channel ``clamp(c + k, 0, C − 1)``. For C = 3 every row sums to 1 and the middle row is almost
    uniform, which is why ``matlab3d`` sees an almost grey image.
    """
    w = _taps64(float(sigma), int(radius))
    m = np.zeros((channels, channels))
    for c in range(channels):
        for k in range(-radius, radius + 1):
            m[c, min(max(c + k, 0), channels - 1)] += w[k + radius]
    return m


def _filter_torch(planes: torch.Tensor, replicate: bool) -> torch.Tensor:
    """Separable Gaussian over (N, H, W): 'valid' output, or same size with replicate padding."""
    w = torch.as_tensor(_taps64(SIGMA, RADIUS), dtype=planes.dtype, device=planes.device)
    x = planes.unsqueeze(1)
    if replicate:
        x = F.pad(x, (RADIUS, RADIUS, RADIUS, RADIUS), mode="replicate")
    x = F.conv2d(x, w.view(1, 1, 1, -1))
    x = F.conv2d(x, w.view(1, 1, -1, 1))
    return x.squeeze(1)


def _ssim_map(f0: Any, f1: Any, f2: Any, f3: Any) -> Any:
    """SSIM map from the filtered moments of s = x + y − 255 and d = x − y (NumPy or torch)."""
    mu_s = f0 + PEAK
    var_s = f2 - f0 * f0
    var_d = f3 - f1 * f1
    ms, md = mu_s * mu_s, f1 * f1
    c1, c2 = (K1 * PEAK) ** 2, (K2 * PEAK) ** 2
    num = (0.5 * (ms - md) + c1) * (0.5 * (var_s - var_d) + c2)
    den = (0.5 * (ms + md) + c1) * (0.5 * (var_s + var_d) + c2)
    return num / den


def _ssim_torch(x: torch.Tensor, y: torch.Tensor, replicate: bool) -> torch.Tensor:
    if x.is_cuda:  # cuDNN would run float32 convolutions in TF32 (10-bit mantissa): far too coarse here
        with torch.backends.cudnn.flags(
            enabled=torch.backends.cudnn.enabled,
            benchmark=torch.backends.cudnn.benchmark,
            deterministic=torch.backends.cudnn.deterministic,
            allow_tf32=False,
        ):
            return _ssim_torch_impl(x, y, replicate)
    return _ssim_torch_impl(x, y, replicate)


def _ssim_torch_impl(x: torch.Tensor, y: torch.Tensor, replicate: bool) -> torch.Tensor:
    b, c, h, w = x.shape
    s = x + y - PEAK  # shifted sum: same variance, smaller squares
    d = x - y
    planes = torch.stack([s, d, s * s, d * d]).reshape(4 * b * c, h, w)
    f = _filter_torch(planes, replicate)
    f = f.reshape(4, b, c, f.shape[-2], f.shape[-1])
    if replicate and c > 1:
        m = torch.as_tensor(channel_mixing_matrix(c), dtype=x.dtype, device=f.device)
        f = torch.einsum("kc,qbchw->qbkhw", m, f)
    smap = _ssim_map(f[0], f[1], f[2], f[3])
    return smap.sum(dim=(1, 2, 3), dtype=torch.float64) / smap[0].numel()


def ssim_values(
    x: torch.Tensor,
    y: torch.Tensor,
    window: str = "skimage",
    precision: str = "float32",
    backend: str = "auto",
) -> torch.Tensor:
    """Per-image mean SSIM (B,) float64 of (B, C, H, W) tensors on the 0..255 scale.

    Args:
        window: ``"skimage"`` (per-channel 2-D window, border dropped) or ``"matlab"`` (replicate
            padding; a 3-D window across channels when C > 1).
        precision: ``"float32"`` or ``"float64"`` filter arithmetic.
        backend: ``"torch"`` (grouped conv2d, any device), ``"opencv"`` (NumPy + OpenCV, CPU only)
            or ``"auto"`` (OpenCV for CPU tensors, torch otherwise).
    """
    if window not in ("skimage", "matlab"):
        raise ValueError(f"window: must be 'skimage' or 'matlab', got {window!r}")
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision: must be 'float32' or 'float64', got {precision!r}")
    if backend not in ("auto", "torch", "opencv"):
        raise ValueError(f"backend: must be 'auto', 'torch' or 'opencv', got {backend!r}")
    cpu = x.device.type == "cpu"
    if backend == "opencv" and not cpu:
        raise ValueError(f"backend 'opencv' needs CPU tensors, got device {x.device}")
    dtype = torch.float32 if precision == "float32" else torch.float64
    h, w = x.shape[-2:]
    if window == "skimage" and min(h, w) < 2 * RADIUS + 1:
        raise ValueError(f"images of {h}×{w} pixels are smaller than the 11×11 SSIM window")
    replicate = window == "matlab"
    x, y = x.to(dtype), y.to(dtype)
    if backend == "torch" or not cpu:
        return _ssim_torch(x, y, replicate)

    return torch.from_numpy(_ssim_hwc_batch(chw_to_hwc(x).numpy(), chw_to_hwc(y).numpy(), replicate, precision))


def _ssim_hwc_batch(xs: np.ndarray, ys: np.ndarray, replicate: bool, precision: str) -> np.ndarray:
    """CPU path over NumPy (N, H, W, C) batches (uint8 or float on 0..255)."""
    from blurkit.metrics._ssim_cpu import ssim_mean_hwc

    c = xs.shape[3]
    mix = channel_mixing_matrix(c) if replicate else np.eye(c)
    taps = _taps64(SIGMA, RADIUS)
    dtype = np.float32 if precision == "float32" else np.float64
    return np.array([ssim_mean_hwc(xs[i], ys[i], taps, mix, replicate, dtype) for i in range(len(xs))])


def ssim(
    pred: Any,
    target: Any,
    variant: str = "skimage",
    quantize: bool = True,
    precision: str = "float32",
) -> Any:
    """Mean SSIM of two images or batches; name the ``variant`` whenever you report it.

    Args:
        pred: NumPy (H, W[, C]) / (N, H, W, C) or torch (C, H, W) / (B, C, H, W); uint8 or float in
            [0, 1]. CUDA tensors are scored on the GPU.
        target: same kind, shape and dtype as ``pred``.
        variant: one of ``"skimage"``, ``"matlab3d"``, ``"skimage_y"``, ``"matlab_y"`` (module docs).
        quantize: round float inputs to 8-bit levels first (the default).
        precision: ``"float32"`` (default, fast) or ``"float64"`` filter arithmetic.

    Returns:
        A float for one image; for a batch a float64 NumPy array (NumPy input) or tensor (torch input).

    Raises:
        ValueError: mismatched shapes or dtypes, unsupported layouts, images smaller than the window
            (skimage variants) or an unknown variant.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    >>> ssim(a, a)
    1.0
    """
    if variant not in SSIM_VARIANTS:
        raise ValueError(f"variant: unknown SSIM variant {variant!r} (use one of {', '.join(SSIM_VARIANTS)})")
    fast = uint8_numpy_pair(pred, target)
    if fast is not None and not variant.endswith("_y") and min(fast[0].shape[1:3]) >= 2 * RADIUS + 1:
        # uint8 NumPy images go straight to the CPU kernels (no float copies of the inputs)
        if precision not in ("float32", "float64"):
            raise ValueError(f"precision: must be 'float32' or 'float64', got {precision!r}")
        vals = _ssim_hwc_batch(fast[0], fast[1], variant == "matlab3d", precision)
        return float(vals[0]) if fast[2] else vals
    batch = prepare(pred, target, quantize=quantize)
    x, y = batch.x, batch.y
    if variant.endswith("_y"):
        if x.shape[1] != 3:
            raise ValueError(f"variant {variant!r} needs RGB images, got shape {tuple(pred.shape)}")
        x, y = y_bt601(x.to(torch.float64)), y_bt601(y.to(torch.float64))
    window = "skimage" if variant.startswith("skimage") else "matlab"
    return finish(ssim_values(x, y, window=window, precision=precision), batch)
