"""Compare deblurrers on a folder of pairs: identity, classical baselines and trained checkpoints.

    python -m benchmarks.compare --pairs pairs/ --deblurrer identity --deblurrer wiener \
        --deblurrer models/weights/deblurgan_blurkit.pt --out runs/compare

``--pairs`` is a ``blurkit make``/``blurkit average`` output (``blur/``, ``sharp/``, optional
``kernels/`` and ``manifest.csv``) or any folder with matching ``blur/`` and ``sharp/`` images.
Non-blind deblurrers (Wiener, Richardson–Lucy) get each pair's true kernel from ``kernels/`` and are
skipped, with a note, on pairs that have none (e.g. averaged video frames). Scores: PSNR (RGB, 8-bit,
peak 255) and SSIM (``skimage`` variant) of the 8-bit rounded output against the sharp image.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks._common import markdown_table, metadata, write_json
from benchmarks._pairs import csv_bytes, finite_mean, match_by_relative_path, read_uint8, score_pair


def _kernel_for(pairs: Path, blur_path: Path) -> np.ndarray | None:
    rel = blur_path.relative_to(pairs / "blur").with_suffix(".npy")
    k = pairs / "kernels" / rel
    return np.load(k) if k.is_file() else None


def compare(
    pairs: Path, deblurrers: list[str], device: str = "cpu", limit: int | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Score each deblurrer on each pair; returns (per-image rows, summary rows)."""
    from models.base import load_deblurrer

    matched = match_by_relative_path(pairs / "blur", pairs / "sharp")
    if limit is not None:
        matched = matched[:limit]
    rows: list[dict[str, Any]] = []
    models = [(spec, load_deblurrer(spec, device=device)) for spec in deblurrers]
    for key, blur_path, sharp_path in matched:
        blur = read_uint8(blur_path)
        sharp = read_uint8(sharp_path)
        kernel = _kernel_for(pairs, blur_path)
        x = torch.from_numpy(blur).permute(2, 0, 1)[None].float().div(255).to(device)
        for spec, model in models:
            if model.needs_kernel and kernel is None:
                continue
            k = torch.from_numpy(kernel)[None].to(device) if kernel is not None else None
            t0 = time.perf_counter()
            with torch.no_grad():
                y = model(x, k)
            seconds = time.perf_counter() - t0
            out = (y[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
            rows.append({"pair": key, "deblurrer": spec, "seconds": seconds, **score_pair(out, sharp, ("skimage",))})
    summary = []
    for spec, _ in models:
        mine = [r for r in rows if r["deblurrer"] == spec]
        summary.append(
            {
                "deblurrer": spec,
                "pairs": len(mine),
                "psnr": finite_mean(r["psnr"] for r in mine),
                "ssim_skimage": finite_mean(r["ssim_skimage"] for r in mine),
                "seconds_per_image": finite_mean(r["seconds"] for r in mine),
            }
        )
    return rows, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", required=True, type=Path, help="pair folder (blur/, sharp/, kernels/)")
    ap.add_argument("--deblurrer", action="append", default=None, help="name or checkpoint (repeatable)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--limit", type=int, default=None, help="score the first N pairs only")
    ap.add_argument("--out", type=Path, default=None, help="write per-image CSV, summary markdown and JSON here")
    args = ap.parse_args(argv)
    specs = args.deblurrer or ["identity", "unsharp", "wiener", "richardson_lucy"]
    try:
        rows, summary = compare(args.pairs, specs, args.device, args.limit)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = markdown_table(summary, ["deblurrer", "pairs", "psnr", "ssim_skimage", "seconds_per_image"])
    print(table)
    if args.out is not None:
        from blurkit.io import atomic_write_bytes

        atomic_write_bytes(args.out / "per_image.csv", csv_bytes(rows))
        atomic_write_bytes(args.out / "summary.md", (table + "\n").encode())
        write_json(args.out / "summary.json", {"metadata": metadata(args.device), "pairs": str(args.pairs), "summary": summary})
    return 0


if __name__ == "__main__":
    sys.exit(main())
