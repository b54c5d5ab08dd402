"""Realism statistics: how a folder of synthetic pairs compares with real blurry/sharp pairs.

For each pair (8-bit RGB, blurred and sharp of one size) :func:`pair_statistics` measures

* ``offset``: mean of blurred − sharp over all pixels and channels, in 8-bit grey levels (a
  photometric bias: real frame averages of GoPro video show about +0.5);
* ``noise_blur`` / ``noise_sharp``: the noise standard deviation of each side's luma in grey levels, a
  robust estimate on the flattest half of the image: the luma is filtered with Immerkær's
  3×3 Laplacian-difference mask (which cancels planar structure), and σ = 1.4826 · median|r| / 6
  (the mask's gain on white noise is 6);
* ``input_psnr``: PSNR of the blurred image against the sharp one (how strong the degradation is);
* ``blur_sigma``: the blur's extent as the σ (pixels) of the Gaussian that, applied to the sharp
  luma in linear light, comes closest to the blurred luma (a 1-D search; motion blur of length L has
  σ ≈ L / √12);
* ``gradient_ratio`` and ``gradient_p99``: mean gradient magnitude of the blurred luma relative to
  the sharp one, and its 99th percentile in grey levels per pixel (the heavy tail that blur removes);
* ``sharpness_ratio``: variance of the Laplacian of the blurred luma over that of the sharp luma.

:func:`folder_statistics` runs it over a pair folder (``blurkit make``/``average`` output or any
``blur/`` + ``sharp/`` layout, GoPro scenes included) and :func:`compare_realism` puts two folders
side by side: the mean of each statistic and the gap synthetic − real. ``blurkit inspect PAIRS
--reference REAL`` prints that table and draws the distributions (:func:`draw_realism`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from blurkit.ops.color import to_linear

#: Statistics of :func:`pair_statistics`, in report order, with a short description.
STATISTICS: dict[str, str] = {
    "offset": "mean blurred - sharp (grey levels)",
    "noise_blur": "noise sigma of the blurred side (grey levels)",
    "noise_sharp": "noise sigma of the sharp side (grey levels)",
    "input_psnr": "PSNR of blurred vs sharp (dB)",
    "blur_sigma": "equivalent Gaussian blur sigma (px)",
    "gradient_ratio": "mean gradient, blurred / sharp",
    "gradient_p99": "99th percentile gradient of the blurred side (levels/px)",
    "sharpness_ratio": "Laplacian variance, blurred / sharp",
}

_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 16.0, 20.0)


def _luma(img: np.ndarray) -> np.ndarray:
    x = np.asarray(img, dtype=np.float64)
    if x.ndim == 2:
        return x
    return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114


def _check_pair(blurred: np.ndarray, sharp: np.ndarray) -> None:
    if blurred.shape != sharp.shape or blurred.ndim not in (2, 3) or min(blurred.shape[:2]) < 8:
        raise ValueError(
            f"pair: blurred {blurred.shape} and sharp {sharp.shape} must be images of one size, at least 8x8"
        )


def noise_sigma(img: np.ndarray, flat_fraction: float = 0.5) -> float:
    """Noise standard deviation (same units as ``img``) on the flattest ``flat_fraction`` of pixels.

    >>> rng = np.random.default_rng(0)
    >>> flat = np.full((128, 128), 100.0)
    >>> round(noise_sigma(flat), 3), round(noise_sigma(flat + rng.normal(0, 4, flat.shape)), 1)
    (0.0, 4.0)
    """
    y = _luma(img)
    r = cv2.filter2D(y, cv2.CV_64F, _IMMERKAER, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
    smooth = cv2.GaussianBlur(y, (0, 0), 1.5)
    gx = cv2.Sobel(smooth, cv2.CV_64F, 1, 0)[1:-1, 1:-1]
    gy = cv2.Sobel(smooth, cv2.CV_64F, 0, 1)[1:-1, 1:-1]
    grad = np.hypot(gx, gy)
    flat = grad <= np.quantile(grad, flat_fraction)
    return float(1.4826 * np.median(np.abs(r[flat])) / 6.0)


def laplacian_variance(img: np.ndarray) -> float:
    """Variance of the Laplacian of the luma (a sharpness figure; larger is sharper)."""
    return float(cv2.Laplacian(_luma(img), cv2.CV_64F).var())


def _gradient(y: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(y, cv2.CV_64F, 1, 0, ksize=1)
    gy = cv2.Sobel(y, cv2.CV_64F, 0, 1, ksize=1)
    return np.hypot(gx, gy)


def _to_linear(y: np.ndarray) -> np.ndarray:
    return to_linear(y / 255.0, "srgb")


def blur_sigma(blurred: np.ndarray, sharp: np.ndarray, sigmas: Sequence[float] = _SIGMAS) -> float:
    """σ (pixels) of the Gaussian whose blur of the sharp image (linear light) best matches ``blurred``."""
    _check_pair(blurred, sharp)
    b, s = _to_linear(_luma(blurred)), _to_linear(_luma(sharp))
    best, best_err = 0.0, math.inf
    for sg in sigmas:
        g = s if sg == 0 else cv2.GaussianBlur(s, (0, 0), sg, borderType=cv2.BORDER_REFLECT)
        err = float(np.mean((g - b) ** 2))
        if err < best_err:
            best, best_err = float(sg), err
    return best


def pair_statistics(blurred: np.ndarray, sharp: np.ndarray) -> dict[str, float]:
    """The statistics of :data:`STATISTICS` for one 8-bit RGB (or gray) pair (module docstring).

    >>> rng = np.random.default_rng(1)
    >>> sharp = rng.integers(0, 200, (64, 64, 3)).astype(np.uint8)
    >>> round(pair_statistics(sharp + 3, sharp)["offset"], 2)
    3.0
    """
    _check_pair(blurred, sharp)
    b = np.asarray(blurred, dtype=np.float64)
    s = np.asarray(sharp, dtype=np.float64)
    mse = float(np.mean((b - s) ** 2))
    yb, ys = _luma(b), _luma(s)
    gb, gs = _gradient(yb), _gradient(ys)
    lap_s = laplacian_variance(ys)
    return {
        "offset": float(np.mean(b - s)),
        "noise_blur": noise_sigma(yb),
        "noise_sharp": noise_sigma(ys),
        "input_psnr": math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse),
        "blur_sigma": blur_sigma(b, s),
        "gradient_ratio": float(gb.mean() / gs.mean()) if gs.mean() > 0 else math.nan,
        "gradient_p99": float(np.quantile(gb, 0.99)),
        "sharpness_ratio": laplacian_variance(yb) / lap_s if lap_s > 0 else math.nan,
    }


def list_pairs(root: str | Path) -> list[tuple[Path, Path]]:
    """(blurred, sharp) paths of a pair folder: ``manifest.csv``, ``blur/`` + ``sharp/``, or GoPro
    scenes ``<scene>/{blur,sharp}``.

    Raises:
        FileNotFoundError: no such folder, or a blurred image without its sharp one.
        ValueError: no pairs in it.
    """
    from blurkit.io import list_images

    r = Path(root)
    if not r.is_dir():
        raise FileNotFoundError(f"{r}: no such folder")
    if (r / "blur").is_dir() and (r / "sharp").is_dir():
        roots = [r]
    else:
        roots = sorted(p for p in r.iterdir() if (p / "blur").is_dir() and (p / "sharp").is_dir())
    pairs: list[tuple[Path, Path]] = []
    for base in roots:
        for b in list_images(base / "blur"):
            rel = b.relative_to(base / "blur")
            candidates = [base / "sharp" / rel, *sorted((base / "sharp" / rel.parent).glob(rel.stem + ".*"))]
            s = next((c for c in candidates if c.is_file()), None)
            if s is None:
                raise FileNotFoundError(f"{b}: no sharp image {base / 'sharp' / rel} beside it")
            pairs.append((b, s))
    if not pairs:
        raise ValueError(f"{r}: no blurry/sharp pairs (expected blur/ and sharp/ folders, or GoPro scenes)")
    return pairs


def folder_statistics(
    root: str | Path, limit: int | None = None, progress: Callable[[int, int], None] | None = None
) -> list[dict[str, Any]]:
    """One row of :func:`pair_statistics` (plus ``pair``, the blurred file's path) per pair of ``root``;
    ``limit`` takes that many pairs spread evenly over the folder."""
    from blurkit.io import read_image, to_uint

    pairs = list_pairs(root)
    if limit is not None and limit < len(pairs):
        idx = np.linspace(0, len(pairs) - 1, max(1, limit)).round().astype(int)
        pairs = [pairs[i] for i in sorted(set(idx.tolist()))]
    rows = []
    for i, (b, s) in enumerate(pairs):
        blurred, sharp = to_uint(read_image(b), 8), to_uint(read_image(s), 8)
        if blurred.shape != sharp.shape:
            raise ValueError(f"{b}: size {blurred.shape[:2]} differs from its sharp image {s} {sharp.shape[:2]}")
        rows.append({"pair": str(b), **pair_statistics(blurred, sharp)})
        if progress is not None:
            progress(i + 1, len(pairs))
    return rows


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Mean of each statistic over the rows (infinite PSNRs of identical pairs left out)."""
    out = {}
    for key in STATISTICS:
        vals = [float(r[key]) for r in rows if math.isfinite(float(r[key]))]
        out[key] = float(np.mean(vals)) if vals else math.nan
    return out


def compare_realism(synthetic: Sequence[dict[str, Any]], real: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per statistic: its synthetic mean, real mean and the gap synthetic − real.

    >>> syn = [{k: 1.0 for k in STATISTICS}]
    >>> real = [{k: 0.5 for k in STATISTICS}]
    >>> compare_realism(syn, real)[0]
    {'statistic': 'offset', 'description': 'mean blurred - sharp (grey levels)', 'synthetic': 1.0, 'real': 0.5, 'gap': 0.5}
    """
    a, b = summarize(synthetic), summarize(real)
    return [
        {"statistic": k, "description": d, "synthetic": a[k], "real": b[k], "gap": a[k] - b[k]}
        for k, d in STATISTICS.items()
    ]


def format_comparison(rows: Sequence[dict[str, Any]], n_syn: int, n_real: int) -> str:
    """The comparison as a fixed-width text table."""
    lines = [f"{'statistic':<16} {'synthetic':>10} {'real':>10} {'gap':>9}  (means over {n_syn} / {n_real} pairs)"]
    for r in rows:
        lines.append(
            f"{r['statistic']:<16} {r['synthetic']:>10.3f} {r['real']:>10.3f} {r['gap']:>+9.3f}  {r['description']}"
        )
    return "\n".join(lines)


def draw_realism(
    synthetic: Sequence[dict[str, Any]], real: Sequence[dict[str, Any]], path: str | Path,
    labels: tuple[str, str] = ("synthetic", "real"),
) -> Path:
    """A PNG with one histogram per statistic, synthetic and real overlaid (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from blurkit.viz import save_figure

    keys = list(STATISTICS)
    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    for ax, key in zip(axes.flat, keys, strict=True):
        groups = [[float(r[key]) for r in rows if math.isfinite(float(r[key]))] for rows in (synthetic, real)]
        everything = groups[0] + groups[1]
        if everything:
            lo, hi = min(everything), max(everything)
            bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 21)
            for vals, label, color in zip(groups, labels, ("tab:orange", "tab:blue"), strict=True):
                if vals:
                    ax.hist(vals, bins=bins, alpha=0.55, color=color, density=True,
                            label=f"{label} (mean {np.mean(vals):.2f})")
        ax.set_title(STATISTICS[key], fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def realism_report(
    synthetic: str | Path, reference: str | Path, limit: int | None = 40, plot: str | Path | None = None
) -> str:
    """The text comparison of two pair folders (``limit`` pairs of each, spread evenly), and the
    histograms in ``plot`` when given — what ``blurkit inspect PAIRS --reference REAL`` prints."""
    syn = folder_statistics(synthetic, limit=limit)
    real = folder_statistics(reference, limit=limit)
    text = f"realism: {synthetic} (synthetic) vs {reference} (reference)\n"
    text += format_comparison(compare_realism(syn, real), len(syn), len(real))
    if plot is not None:
        draw_realism(syn, real, plot, labels=(Path(synthetic).name or "synthetic", Path(reference).name or "real"))
        text += f"\nplot: {plot}"
    return text
