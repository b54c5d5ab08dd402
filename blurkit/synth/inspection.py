"""Look at and check a pair folder: summary statistics, a contact sheet, and a full verification.

- :func:`inspect_pairs`: counts, kernel length/size (or frame window) distribution, PSNR of blurred
  vs sharp computed from the images, and optionally a contact sheet PNG (blurred | sharp | kernel).
- :func:`verify_pairs`: every file listed in the manifest exists, decodes, has the listed size and
  checksum; kernels load and sum to 1; leftovers (unlisted pairs, temporary files) are reported.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from blurkit.io import atomic_write_bytes
from blurkit.io.images import swap_red_blue
from blurkit.metrics import psnr
from blurkit.synth.manifest import MANIFEST_FILE, read_manifest, sha256_bytes


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB, peak 255, RGB, float64) of two uint8 images; ``inf`` when identical."""
    return float(psnr(a, b))


def _decode(path: Path) -> np.ndarray | None:
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        return None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return None if img is None else img[:, :, ::-1]


def _percentiles(values: pd.Series) -> dict[str, float]:
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {}
    q = np.percentile(v, [0, 5, 50, 95, 100])
    return {"min": q[0], "p5": q[1], "median": q[2], "p95": q[3], "max": q[4], "mean": float(v.mean())}


@dataclass
class InspectReport:
    """Summary of a pair folder (``stats``: name → percentiles) and the contact sheet written, if any."""

    count: int
    kinds: dict[str, int]
    stats: dict[str, dict[str, float]] = field(default_factory=dict)
    psnr_pairs: int = 0
    identical: int = 0
    sheet: Path | None = None

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(self.kinds.items()))
        out = [f"{self.count} pair(s) ({kinds})"]
        for name, s in self.stats.items():
            if s:
                out.append(f"{name:>14}: " + "  ".join(f"{k} {s[k]:.4g}" for k in ("min", "p5", "median", "p95", "max", "mean")))
        if self.psnr_pairs:
            extra = f" ({self.identical} identical pair(s), PSNR inf, left out)" if self.identical else ""
            out.append(f"PSNR computed on {self.psnr_pairs} pair(s){extra}")
        if self.sheet is not None:
            out.append(f"contact sheet: {self.sheet}")
        return out


def _thumb(img: np.ndarray, height: int) -> np.ndarray:
    h, w = img.shape[:2]
    width = max(1, round(w * height / h))
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def _kernel_tile(kernel: np.ndarray | None, size: int) -> np.ndarray:
    tile = np.zeros((size, size, 3), np.uint8)
    if kernel is None or kernel.size == 0 or kernel.max() <= 0:
        cv2.putText(tile, "frames", (6, size // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (200, 200, 200), 1)
        return tile
    k = (kernel / kernel.max() * 255).astype(np.uint8)
    k = cv2.resize(k, (size, size), interpolation=cv2.INTER_NEAREST)
    return cv2.applyColorMap(k, cv2.COLORMAP_INFERNO)[:, :, ::-1]


def contact_sheet(
    root: Path, rows: pd.DataFrame, path: str | os.PathLike[str], height: int = 160
) -> Path:
    """Draw one line per pair, blurred | sharp | kernel, labelled with the key, and save it as PNG."""
    lines = []
    for _, row in rows.iterrows():
        blur, sharp = _decode(root / str(row["blur"])), _decode(root / str(row["sharp"]))
        if blur is None or sharp is None:
            continue
        kpath = str(row.get("kernel", "") or "")
        kernel = np.load(root / kpath) if kpath and kpath != "nan" and (root / kpath).is_file() else None
        parts = [_thumb(blur, height), _thumb(sharp, height), _kernel_tile(kernel, height)]
        line = np.concatenate(parts, axis=1)
        label = f"{row['key']}"
        if "length" in row and pd.notna(row.get("length")):
            label += f"  L={float(row['length']):.0f}"
        if "window" in row and pd.notna(row.get("window")):
            label += f"  N={int(row['window'])}"
        band = np.full((18, line.shape[1], 3), 30, np.uint8)
        cv2.putText(band, label[:120], (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (240, 240, 240), 1, cv2.LINE_AA)
        lines.append(np.concatenate([band, line], axis=0))
    if not lines:
        raise ValueError(f"{root}: no decodable pair to draw")
    width = max(x.shape[1] for x in lines)
    sheet = np.concatenate([np.pad(x, ((0, 2), (0, width - x.shape[1]), (0, 0))) for x in lines], axis=0)
    ok, buf = cv2.imencode(".png", swap_red_blue(sheet))
    if not ok:
        raise ValueError(f"{path}: cannot encode the contact sheet")
    out = Path(path)
    atomic_write_bytes(out, buf.tobytes())
    return out


def inspect_pairs(
    out: str | os.PathLike[str],
    sheet: str | os.PathLike[str] | None = None,
    sample: int = 12,
    seed: int = 0,
    psnr_sample: int = 500,
    workers: int = 2,
) -> InspectReport:
    """Summarise a pair folder from its manifest and its images.

    Args:
        out: the pair folder (with ``manifest.csv``).
        sheet: write a contact sheet PNG of ``sample`` random pairs (drawn with ``seed``) here.
        psnr_sample: compute PSNR(blurred, sharp) on at most this many random pairs (0 = all).
        workers: threads decoding images.

    Raises:
        FileNotFoundError: no manifest.
    """
    root = Path(out)
    df = read_manifest(root)
    if sample < 1:
        raise ValueError(f"sample: must be >= 1, got {sample}")
    if psnr_sample < 0:
        raise ValueError(f"psnr_sample: must be >= 0 (0 = all), got {psnr_sample}")
    kinds = df["kernel_source"].fillna("?").value_counts().to_dict() if "kernel_source" in df else {}
    report = InspectReport(count=len(df), kinds={str(k): int(v) for k, v in kinds.items()})
    for col, name in (("length", "length px"), ("kernel_size", "kernel size"), ("window", "window frames"),
                      ("boost", "boost"), ("shot", "shot noise"), ("read", "read noise")):
        if col in df:
            report.stats[name] = _percentiles(df[col])
    rng = np.random.default_rng(seed)
    n_psnr = len(df) if psnr_sample == 0 else min(psnr_sample, len(df))
    chosen = df.iloc[np.sort(rng.permutation(len(df))[:n_psnr])] if len(df) else df

    def score(row: Any) -> float | None:
        a, b = _decode(root / str(row["blur"])), _decode(root / str(row["sharp"]))
        if a is None or b is None or a.shape != b.shape:
            return None
        return _psnr(a, b)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        scores = [s for s in pool.map(score, [r for _, r in chosen.iterrows()]) if s is not None]
    finite = pd.Series([s for s in scores if math.isfinite(s)], dtype=np.float64)
    report.psnr_pairs = len(scores)
    report.identical = len(scores) - len(finite)
    report.stats["PSNR dB"] = _percentiles(finite)
    if sheet is not None and len(df):
        pick = np.sort(np.random.default_rng(seed).permutation(len(df))[: min(sample, len(df))])
        report.sheet = contact_sheet(root, df.iloc[pick], sheet)
    return report


@dataclass
class Problem:
    """One problem found by :func:`verify_pairs`: the file and what is wrong."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _check_image(root: Path, rel: str, sha: Any, height: int, width: int) -> list[Problem]:
    p = root / rel
    if not p.is_file():
        return [Problem(rel, "missing")]
    data = p.read_bytes()
    out: list[Problem] = []
    if isinstance(sha, str) and sha and sha256_bytes(data) != sha:
        out.append(Problem(rel, "checksum differs from the manifest"))
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if img is None:
        return [*out, Problem(rel, "cannot be decoded")]
    if img.shape[:2] != (height, width):
        out.append(Problem(rel, f"size {img.shape[1]}x{img.shape[0]} but the manifest says {width}x{height}"))
    return out


def _check_kernel(root: Path, rel: str, sha: Any, size: Any) -> list[Problem]:
    p = root / rel
    if not p.is_file():
        return [Problem(rel, "missing")]
    data = p.read_bytes()
    out: list[Problem] = []
    if isinstance(sha, str) and sha and sha256_bytes(data) != sha:
        out.append(Problem(rel, "checksum differs from the manifest"))
    try:
        k = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as exc:
        return [*out, Problem(rel, f"cannot be loaded ({exc})")]
    if k.ndim != 2 or (pd.notna(size) and k.shape[0] != int(size)):
        out.append(Problem(rel, f"shape {k.shape} but the manifest says size {size}"))
    elif not np.isfinite(k).all() or (k < 0).any() or abs(float(k.sum(dtype=np.float64)) - 1.0) > 1e-4:
        out.append(Problem(rel, "not a normalised kernel (negative, non-finite or sum != 1)"))
    return out


def verify_pairs(out: str | os.PathLike[str], workers: int = 2) -> list[Problem]:
    """Check every file of a pair folder against its manifest; return the problems (empty when sound).

    Raises:
        FileNotFoundError: no manifest.
    """
    root = Path(out)
    df = read_manifest(root)
    problems: list[Problem] = []
    dup = df["key"][df["key"].duplicated()].tolist()
    problems += [Problem(MANIFEST_FILE, f"pair {k!r} listed twice") for k in dup]

    def check(row: Any) -> list[Problem]:
        h, w = int(row["height"]), int(row["width"])
        res = _check_image(root, str(row["blur"]), row.get("blur_sha256"), h, w)
        res += _check_image(root, str(row["sharp"]), row.get("sharp_sha256"), h, w)
        kernel = row.get("kernel")
        if isinstance(kernel, str) and kernel:
            res += _check_kernel(root, kernel, row.get("kernel_sha256"), row.get("kernel_size"))
        return res

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for res in pool.map(check, [r for _, r in df.iterrows()]):
            problems += res
    listed = {str(v) for col in ("blur", "sharp", "kernel") if col in df for v in df[col].dropna()}
    for sub in ("blur", "sharp", "kernels"):
        folder = root / sub
        if not folder.is_dir():
            continue
        for p in sorted(folder.rglob("*")):
            if not p.is_file():
                continue
            rel = p.relative_to(root).as_posix()
            if p.name.endswith(".tmp"):
                problems.append(Problem(rel, "temporary file left by an interrupted run (run with --resume)"))
            elif rel not in listed:
                problems.append(Problem(rel, "not in the manifest"))
    return problems


def format_problems(problems: Sequence[Problem], limit: int = 50) -> list[str]:
    lines = [str(p) for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more")
    return lines


__all__ = ["InspectReport", "Problem", "contact_sheet", "inspect_pairs", "verify_pairs"]
