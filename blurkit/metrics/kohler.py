"""The Köhler et al. (ECCV 2012) benchmark score of one deblurred image.

Each blurred image of the benchmark comes with the sequence of sharp frames (about 199) recorded
while a robot played the camera shake back. The official MATLAB evaluation (``eval_image.m`` with
``metrix_mux``, Köhler and Hirsch 2012) scores a deblurred image ``z`` against every frame ``x``:

1. ``z`` and ``x`` are uint8 RGB turned into double (0..255); ``c`` is an all-ones mask;
2. intensity scale by least squares over all pixels and channels: ``zs = (Σ x·z / Σ z·z) · z``;
3. integer shift by DFT registration of the channel means (Guizar-Sicairos' ``dftregistration``
   with upsampling 1): the peak of ``|ifft2(fft2(mean(x)) · conj(fft2(mean(zs))))|``, first maximum
   in column-major order, indices past the half size wrapped to negative shifts;
4. ``zs`` and the mask are shifted by that integer vector with zero fill (``imshift(…, 'same')``),
   and the frame is masked: ``xr = x · shifted mask``;
5. both are converted to full-range luma ``0.299 R + 0.587 G + 0.114 B`` and
   ``PSNR = 10 log10(255² / mean((xr − zr)²))`` with the mean over the whole frame (the zeroed
   border counts, with zero error);
6. the image score is the maximum PSNR over the frames. For image 1 with kernel 3 the script
   scores frames ``[1:29, 31:198]`` only (frame 30 of that sequence is broken).

The dataset score is the mean of the 48 image scores (see ``benchmarks/kohler.py``).

This implementation follows that order exactly and vectorises it over chunks of frames: the scale
and the luma are linear, so ``fft2(mean(zs)) = α · fft2(mean(z))`` and the registration peak does
not depend on ``α``; one forward and one inverse FFT per frame. The scale numerator is an exact
integer sum and the error is accumulated in float64. On CPU the registration FFTs run in float32 on
mean-centred images (the correlation of non-negative images is non-negative, so the peak of its
magnitude is its peak and removing the means only subtracts a constant); ``precision="float64"``
and GPUs use float64 throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from blurkit.metrics._input import PEAK
from blurkit.metrics.color import BT601_FULL

SKIPPED_FRAME = {(1, 3): 30}  # (image, kernel) → the broken 1-based frame the official script skips
LAST_FRAME = {(1, 3): 198}  # the official script's explicit frame list for (1, 3) ends at 198


@dataclass(frozen=True)
class KohlerScore:
    """Result of :func:`kohler_psnr`.

    Attributes:
        psnr: the image score, the maximum PSNR over the scored frames (dB).
        best_frame: 1-based index of the frame that gives it.
        frames: 1-based indices of the scored frames.
        per_frame: PSNR per scored frame.
        shifts: integer (row, col) shift applied to the prediction, per scored frame.
        scales: least-squares intensity scale, per scored frame.
    """

    psnr: float
    best_frame: int
    frames: np.ndarray
    per_frame: np.ndarray
    shifts: np.ndarray
    scales: np.ndarray


def kohler_frame_indices(n_frames: int, image: int | None = None, kernel: int | None = None) -> list[int]:
    """1-based frames the official evaluation scores for ``(image, kernel)``.

    >>> idx = kohler_frame_indices(199, 1, 3)
    >>> 30 in idx, idx[-1], len(idx)
    (False, 198, 197)
    >>> len(kohler_frame_indices(199, 2, 3))
    199
    """
    if n_frames < 1:
        raise ValueError(f"n_frames: need at least one ground-truth frame, got {n_frames}")
    key = (image, kernel)
    last = min(n_frames, LAST_FRAME.get(key, n_frames))  # type: ignore[arg-type]
    skip = SKIPPED_FRAME.get(key)  # type: ignore[arg-type]
    return [k for k in range(1, last + 1) if k != skip]


def register_shifts(frames_mean: torch.Tensor, pred_mean_fft: torch.Tensor) -> torch.Tensor:
    """Integer shifts (n, 2) registering the prediction to each frame, as ``dftregistration(…, 1)``.

    Args:
        frames_mean: (n, H, W) float64 channel means of the frames.
        pred_mean_fft: ``rfft2`` of the prediction's channel mean, (H, W // 2 + 1).
    """
    n, h, w = frames_mean.shape
    cc = torch.fft.irfft2(torch.fft.rfft2(frames_mean) * pred_mean_fft.conj(), s=(h, w))
    # MATLAB's max runs down columns first: take the first maximum in column-major order.
    flat = cc.abs().transpose(1, 2).reshape(n, -1)
    idx = flat.argmax(dim=1)
    col, row = idx // h, idx % h
    row = torch.where(row >= h // 2, row - h, row)
    col = torch.where(col >= w // 2, col - w, col)
    return torch.stack([row, col], dim=1)


def _shifted_sse(yx: torch.Tensor, yz: torch.Tensor, alpha: float, dr: int, dc: int) -> float:
    """Σ over the frame of (mask·Yx − shift(α·Yz))², the shift moving content by (+dr, +dc)."""
    h, w = yx.shape
    if abs(dr) >= h or abs(dc) >= w:
        return float((yx * yx).sum()) * 0.0  # everything masked out: both images are zero
    r0, r1 = max(dr, 0), h + min(dr, 0)
    c0, c1 = max(dc, 0), w + min(dc, 0)
    diff = yx[r0:r1, c0:c1] - alpha * yz[r0 - dr : r1 - dr, c0 - dc : c1 - dc]
    return float((diff * diff).sum())


def _as_uint8_hwc(a: Any, name: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.dtype.kind == "f":
        a = np.clip(np.rint(a.astype(np.float64) * PEAK), 0, PEAK).astype(np.uint8)
    if a.dtype != np.uint8:
        raise ValueError(f"{name}: expected uint8 or float in [0, 1], got dtype {a.dtype}")
    return torch.from_numpy(np.ascontiguousarray(a))


def _psnr_of_sse(sse: float, n_pixels: int) -> float:
    mse = sse / n_pixels
    return float("inf") if mse == 0 else 10.0 * float(np.log10(PEAK * PEAK / mse))


def _score_cpu(
    z: np.ndarray, frames: Any, idx: list[int], chunk: int
) -> tuple[list[float], list[float], list[list[int]]]:
    from blurkit._threads import pool
    from blurkit.metrics._kohler_cpu import frame_stats, registration_peaks, shifted_luma_sse

    h, w = z.shape[:2]
    zd = np.ascontiguousarray(z, dtype=np.float64)
    zz = float((zd * zd).sum())
    r, g, b = BT601_FULL  # same expression order as the kernel's frame luma, so equal images give 0 error
    yz = np.ascontiguousarray(r * zd[:, :, 0] + g * zd[:, :, 1] + b * zd[:, :, 2])
    zmean = zd.mean(axis=2)
    zc_conj = np.conj(np.fft.rfft2(zmean - zmean.mean())).astype(np.complex64)
    zoffset = np.float32(zmean.mean())  # frames are shifted by about their mean level (see registration_peaks)
    frames_np = frames.numpy() if isinstance(frames, torch.Tensor) else frames
    scales: list[float] = []
    psnrs: list[float] = []
    shifts: list[list[int]] = []
    for start in range(0, len(idx), chunk):
        sel = [k - 1 for k in idx[start : start + chunk]]
        block = np.ascontiguousarray(frames_np[sel])
        means = np.empty(block.shape[:3], dtype=np.float32)
        dots = list(pool().map(frame_stats, block, [zd] * len(block), means, [zoffset] * len(block)))
        alpha = np.asarray(dots, dtype=np.float64) / zz
        sh = registration_peaks(means, zc_conj)
        sses = list(
            pool().map(
                shifted_luma_sse, block, [yz] * len(block), alpha.tolist(), sh[:, 0].tolist(), sh[:, 1].tolist()
            )
        )
        psnrs.extend(_psnr_of_sse(sse, h * w) for sse in sses)
        scales.extend(alpha.tolist())
        shifts.extend(sh.tolist())
    return scales, psnrs, shifts


def _score_torch(
    z8: torch.Tensor, frames: Any, idx: list[int], chunk: int, dev: torch.device
) -> tuple[list[float], list[float], list[list[int]]]:
    z = z8.to(dev, torch.float64)
    zz = float((z * z).sum())
    lw = torch.tensor(BT601_FULL, dtype=torch.float64, device=dev)
    yz = z @ lw
    fz = torch.fft.rfft2(z.mean(dim=2))
    h, w = z.shape[:2]
    scales: list[float] = []
    psnrs: list[float] = []
    shifts: list[list[int]] = []
    for start in range(0, len(idx), chunk):
        sel = [k - 1 for k in idx[start : start + chunk]]
        block = frames[sel] if isinstance(frames, torch.Tensor) else torch.from_numpy(np.asarray(frames[sel]))
        x = block.to(dev, torch.float64)  # (n, H, W, 3)
        alpha = torch.einsum("nhwc,hwc->n", x, z) / zz
        sh = register_shifts(x.mean(dim=3), fz)
        yx = x @ lw
        alpha_l, sh_l = alpha.tolist(), sh.tolist()
        for j in range(len(sel)):
            sse = _shifted_sse(yx[j], yz, alpha_l[j], int(sh_l[j][0]), int(sh_l[j][1]))
            psnrs.append(_psnr_of_sse(sse, h * w))
        scales.extend(alpha_l)
        shifts.extend(sh_l)
    return scales, psnrs, shifts


def kohler_psnr(
    pred: Any,
    frames: Any,
    image: int | None = None,
    kernel: int | None = None,
    frame_indices: list[int] | None = None,
    chunk: int = 8,
    device: str | torch.device = "cpu",
    precision: str = "float32",
) -> KohlerScore:
    """Köhler benchmark PSNR of a deblurred image against its ground-truth frames.

    Args:
        pred: deblurred image (H, W, 3), uint8, or float in [0, 1] (rounded to 8 bits, as the
            official script requires uint8).
        frames: ground-truth frames (N, H, W, 3) uint8 (a NumPy memmap works and is read chunk by
            chunk).
        image: benchmark image number 1..4 (selects the official frame list with ``kernel``).
        kernel: benchmark kernel number 1..12.
        frame_indices: 1-based frames to score, overriding the official list.
        chunk: frames processed together (memory ≈ chunk × 50 MB at 800×800).
        device: where to compute ("cuda" is much faster).
        precision: ``"float32"`` (CPU default: float32 FFTs of mean-centred images for the
            registration, everything else exact or float64) or ``"float64"`` (all float64, the
            torch path; always used on GPU).

    Returns:
        A :class:`KohlerScore`; ``psnr`` is the image score (max over frames).

    Raises:
        ValueError: shapes or dtypes that do not fit, an all-zero prediction, or frame indices
            outside 1..N.
    """
    z8 = _as_uint8_hwc(pred, "pred")
    if z8.ndim != 3 or z8.shape[2] != 3:
        raise ValueError(f"pred: expected an RGB image (H, W, 3), got shape {tuple(z8.shape)}")
    if not isinstance(frames, (np.ndarray, torch.Tensor)) or frames.ndim != 4 or tuple(frames.shape[1:]) != tuple(z8.shape):
        shape = tuple(getattr(frames, "shape", ()))
        raise ValueError(f"frames: expected (N, {', '.join(map(str, z8.shape))}) to match pred, got shape {shape}")
    if frames.dtype not in (np.uint8, torch.uint8):
        raise ValueError(f"frames: expected uint8 ground-truth frames, got dtype {frames.dtype}")
    n = int(frames.shape[0])
    idx = frame_indices if frame_indices is not None else kohler_frame_indices(n, image, kernel)
    bad = [k for k in idx if not 1 <= k <= n]
    if bad or not idx:
        raise ValueError(f"frame_indices: must be non-empty and within 1..{n}, got {bad or idx}")
    if chunk < 1:
        raise ValueError(f"chunk: must be >= 1, got {chunk}")
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision: must be 'float32' or 'float64', got {precision!r}")
    if int((z8.to(torch.int64) ** 2).sum()) == 0:
        raise ValueError("pred: the deblurred image is all zero; the intensity scale is undefined")

    dev = torch.device(device)
    if dev.type == "cpu" and precision == "float32":
        scales, psnrs, shifts = _score_cpu(z8.numpy(), frames, idx, chunk)
    else:
        scales, psnrs, shifts = _score_torch(z8, frames, idx, chunk, dev)
    per_frame = np.asarray(psnrs, dtype=np.float64)
    best = int(np.argmax(per_frame))
    return KohlerScore(
        psnr=float(per_frame[best]),
        best_frame=int(idx[best]),
        frames=np.asarray(idx, dtype=np.int64),
        per_frame=per_frame,
        shifts=np.asarray(shifts, dtype=np.int64).reshape(-1, 2),
        scales=np.asarray(scales, dtype=np.float64),
    )
