"""Score any folder of predictions against a folder of ground truth.

Usage::

    python -m benchmarks.evaluate --pred runs/pred --gt pairs/sharp [--blurred pairs/blur] [--out runs/eval]

Files are matched by relative path without suffix (``a/b/img.png`` ↔ ``a/b/img.tif``), falling back
to unique file stems. Writes ``per_image.csv`` (PSNR, SSIM ``skimage`` and ``matlab3d``, and with a
blurred folder the blurred input's PSNR and the gain), ``summary.md`` and ``summary.json``, a PSNR
histogram ``psnr_hist.png`` and, when a blurkit ``manifest.csv`` with ``blur``, ``sharp`` and
``length`` columns is found at the ground-truth folder or one of its two parents (or given with
``--manifest``), ``gain_vs_length.png``: PSNR gain over the blurred input against the blur
trajectory length.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from benchmarks._common import markdown_table, metadata, write_json
from benchmarks._pairs import (
    DEFAULT_SSIM,
    check_lossless,
    finite_mean,
    match_by_relative_path,
    read_uint8,
    score_pair,
    write_csv,
    write_text,
)
from blurkit.io import atomic_write_bytes
from blurkit.scripting import USER_ERRORS, run_main

MANIFEST = "manifest.csv"


def find_manifest(gt: Path) -> Path | None:
    """``manifest.csv`` in ``gt`` or one of its two parents, if any."""
    for d in (gt, gt.parent, gt.parent.parent):
        if (d / MANIFEST).is_file():
            return d / MANIFEST
    return None


def manifest_lookup(manifest: Path) -> dict[Path, dict[str, Any]]:
    """Manifest rows keyed by the resolved sharp-image path; empty when a needed column is missing."""
    import pandas as pd

    df = pd.read_csv(manifest)
    if not {"blur", "sharp", "length"} <= set(df.columns):
        return {}
    root = manifest.parent
    return {(root / str(r["sharp"])).resolve(): {"blur": root / str(r["blur"]), "length": float(r["length"])} for r in df.to_dict("records")}


def evaluate_folders(
    pred: str | Path,
    gt: str | Path,
    blurred: str | Path | None = None,
    manifest: str | Path | None = None,
    allow_lossy: bool = False,
    ssim_variants: tuple[str, ...] = DEFAULT_SSIM,
    progress: bool = True,
) -> dict[str, Any]:
    """Per-image and mean scores of matched (pred, gt) files.

    Raises:
        FileNotFoundError: missing folders or no matching files.
        ValueError: lossy predictions (unless allowed) or size mismatches.
    """
    from tqdm import tqdm

    pred, gt = Path(pred), Path(gt)
    pairs = match_by_relative_path(pred, gt)
    check_lossless((p for _, p, _ in pairs), allow_lossy)
    man_path = Path(manifest) if manifest else find_manifest(gt)
    if man_path is not None and not man_path.is_file():
        raise FileNotFoundError(f"{man_path}: no such manifest")
    lookup = manifest_lookup(man_path) if man_path else {}
    blurred_index: dict[str, Path] = {}
    if blurred is not None:
        blurred_index = {k: b for k, _, b in match_by_relative_path(Path(blurred), gt)}
    rows = []
    for key, p, g in tqdm(pairs, desc="evaluate", unit="img", disable=not progress):
        a, b = read_uint8(p), read_uint8(g)
        if a.shape != b.shape:
            raise ValueError(f"{p}: prediction shape {a.shape} differs from ground truth {g} shape {b.shape}")
        row: dict[str, Any] = {"image": key, **score_pair(a, b, ssim_variants)}
        info = lookup.get(g.resolve())
        blur_file = blurred_index.get(key) or (info["blur"] if info else None)
        if info:
            row["length"] = info["length"]
        if blur_file is not None and Path(blur_file).is_file():
            from blurkit.metrics import psnr

            row["psnr_blurred"] = float(psnr(read_uint8(blur_file), b))
            row["psnr_gain"] = row["psnr"] - row["psnr_blurred"]
        rows.append(row)
    metrics = [k for k in rows[0] if k not in ("image", "length")]
    summary = {"images": len(rows), **{m: finite_mean(r.get(m, float("nan")) for r in rows) for m in metrics}}
    return {"rows": rows, "summary": summary, "manifest": str(man_path) if lookup else None}


def plot_results(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """PSNR histogram, and PSNR gain vs kernel length when both are known; returns the files written."""
    import io
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []

    def save(fig: Any, name: str) -> None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        atomic_write_bytes(out / name, buf.getvalue())
        written.append(out / name)

    vals = [r["psnr"] for r in rows if math.isfinite(r["psnr"])]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(vals, bins=min(40, max(5, len(vals) // 3)), color="#4477aa")
    ax.set_xlabel("PSNR (dB)")
    ax.set_ylabel("images")
    ax.set_title(f"PSNR, {len(vals)} images (mean {sum(vals) / max(1, len(vals)):.2f} dB)")
    save(fig, "psnr_hist.png")
    pts = [(r["length"], r["psnr_gain"]) for r in rows if "length" in r and "psnr_gain" in r and math.isfinite(r["psnr_gain"])]
    if pts:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=10, alpha=0.7, color="#cc6677")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel("blur trajectory length (px)")
        ax.set_ylabel("PSNR gain over blurred (dB)")
        ax.set_title("Gain vs kernel length")
        save(fig, "gain_vs_length.png")
    return written


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2, after one ``error: ...`` line, on bad input)."""
    return run_main(_main, argv, errors=(*USER_ERRORS, OSError))


def _main(argv: list[str] | None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.evaluate", description=__doc__.split("\n")[0])
    ap.add_argument("--pred", required=True)
    ap.add_argument("--gt", required=True)
    ap.add_argument("--blurred", default=None, help="blurred inputs, to report the PSNR gain")
    ap.add_argument("--manifest", default=None, help="blurkit manifest.csv (found automatically near --gt)")
    ap.add_argument("--out", default="runs/evaluate")
    ap.add_argument("--ssim", default=",".join(DEFAULT_SSIM), help="comma-separated SSIM variants")
    ap.add_argument("--allow-lossy", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    res = evaluate_folders(
        a.pred, a.gt, a.blurred, a.manifest, a.allow_lossy, tuple(v for v in a.ssim.split(",") if v), not a.quiet
    )
    out = Path(a.out)
    cols = list(res["summary"])
    md = "## Paired evaluation\n\n" + markdown_table([res["summary"]], cols)
    write_csv(out / "per_image.csv", res["rows"])
    write_json(out / "summary.json", {"benchmark": "evaluate", "args": vars(a), "meta": metadata(), **res})
    write_text(out / "summary.md", md + "\n")
    plots = plot_results(res["rows"], out)
    print(md)
    print("\nplots: " + ", ".join(str(p) for p in plots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
