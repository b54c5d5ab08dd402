"""Helpers shared by the image-quality benchmarks: matching files, scoring pairs, writing results."""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from blurkit.io import IMAGE_SUFFIXES, LOSSLESS_SUFFIXES, atomic_write_bytes, list_images, read_image, to_uint

DEFAULT_SSIM = ("skimage", "matlab3d")


def read_uint8(path: str | Path) -> np.ndarray:
    """An image file as uint8 RGB (H, W, 3) (16-bit files are rounded to 8 bits)."""
    return to_uint(read_image(path), 8)


def check_lossless(paths: Iterable[Path], allow_lossy: bool, what: str = "prediction") -> None:
    """Refuse lossy files (JPEG, WebP) unless allowed: they change the scores.

    Raises:
        ValueError: naming the first lossy file.
    """
    if allow_lossy:
        return
    for p in paths:
        if p.suffix.lower() not in LOSSLESS_SUFFIXES:
            raise ValueError(
                f"{p}: {what} is stored in a lossy format ({p.suffix}); save predictions as PNG or pass --allow-lossy"
            )


def index_images(root: Path) -> dict[str, Path]:
    """Images under ``root`` keyed by relative path without suffix (POSIX)."""
    out: dict[str, Path] = {}
    for p in list_images(root):
        key = p.relative_to(root).with_suffix("").as_posix()
        if key in out:
            raise ValueError(f"{root}: two images share the name {key!r} ({out[key].name}, {p.name})")
        out[key] = p
    return out


def match_by_relative_path(pred_root: Path, gt_root: Path) -> list[tuple[str, Path, Path]]:
    """Pairs (key, pred, gt) with the same relative path (suffix ignored); falls back to the file stem
    when the relative paths do not match but stems are unique.

    Raises:
        FileNotFoundError: a folder is missing, empty, or no file matches.
    """
    for root in (pred_root, gt_root):
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such folder")
    preds, gts = index_images(pred_root), index_images(gt_root)
    if not gts:
        raise FileNotFoundError(f"{gt_root}: no images found")
    if not preds:
        raise FileNotFoundError(f"{pred_root}: no images found")
    common = sorted(set(preds) & set(gts))
    if not common:
        by_stem_p = _unique_stems(preds)
        by_stem_g = _unique_stems(gts)
        common_stems = sorted(set(by_stem_p) & set(by_stem_g))
        if not common_stems:
            raise FileNotFoundError(
                f"no file of {pred_root} matches a file of {gt_root} by relative path or name "
                f"(e.g. {next(iter(preds))!r} vs {next(iter(gts))!r})"
            )
        return [(s, by_stem_p[s], by_stem_g[s]) for s in common_stems]
    return [(k, preds[k], gts[k]) for k in common]


def _unique_stems(index: dict[str, Path]) -> dict[str, Path]:
    stems: dict[str, list[Path]] = {}
    for p in index.values():
        stems.setdefault(p.stem, []).append(p)
    return {s: ps[0] for s, ps in stems.items() if len(ps) == 1}


def score_pair(pred: np.ndarray, gt: np.ndarray, ssim_variants: Sequence[str] = DEFAULT_SSIM) -> dict[str, float]:
    """PSNR and the requested SSIM variants of one uint8 pair.

    Raises:
        ValueError: the two images differ in size (the message names both shapes).
    """
    from blurkit.metrics import psnr, ssim

    row = {"psnr": float(psnr(pred, gt))}
    for v in ssim_variants:
        row[f"ssim_{v}"] = float(ssim(pred, gt, v))
    return row


def finite_mean(values: Iterable[float]) -> float:
    """Mean of the finite values (PSNR of identical images is ``inf``); NaN when there are none."""
    vals = [v for v in values if math.isfinite(v)]
    return statistics.fmean(vals) if vals else float("nan")


def csv_bytes(rows: list[dict[str, Any]], columns: list[str] | None = None) -> bytes:
    """Rows as CSV text (UTF-8), columns in first-seen order unless given."""
    if columns is None:
        columns = []
        for r in rows:
            columns.extend(k for k in r if k not in columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue().encode()


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    atomic_write_bytes(path, csv_bytes(rows, columns))


def write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES
