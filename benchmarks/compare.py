"""Compare deblurrers on a folder of pairs: identity, classical baselines and trained checkpoints.

    python -m benchmarks.compare --pairs pairs/ --deblurrer identity --deblurrer wiener \
        --deblurrer models/weights/deblurgan_blurkit.pt --out runs/compare

``--pairs`` is a ``blurkit make``/``blurkit average`` output (``blur/``, ``sharp/``, optional
``kernels/`` and ``manifest.csv``) or any folder with matching ``blur/`` and ``sharp/`` images.
Non-blind deblurrers (Wiener, Richardson–Lucy) get each pair's true kernel from ``kernels/`` and are
skipped, with a note, on pairs that have none (e.g. averaged video frames). Scores: PSNR (RGB, 8-bit,
peak 255) and SSIM (``skimage`` variant) of the 8-bit rounded output against the sharp image.

``--html`` also writes ``report.html`` into ``--out``: one self-contained page (no network) with the
score table, the per-image chart and a before/after slider per pair for every deblurrer
(:mod:`benchmarks.html_report`; ``--html-pairs``, ``--html-side`` and ``--html-format`` set its size).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks._common import markdown_table, metadata, write_json
from benchmarks._pairs import csv_bytes, finite_mean, match_by_relative_path, read_uint8, score_pair
from blurkit.scripting import UsageError, run_main
from blurkit.tensors import to_image, to_tensor


def _kernel_for(pairs: Path, blur_path: Path) -> np.ndarray | None:
    rel = blur_path.relative_to(pairs / "blur").with_suffix(".npy")
    k = pairs / "kernels" / rel
    return np.load(k) if k.is_file() else None


OutputHook = Callable[[str, np.ndarray, np.ndarray, dict[str, np.ndarray]], None]


def compare(
    pairs: Path,
    deblurrers: list[str],
    device: str = "cpu",
    limit: int | None = None,
    on_pair: OutputHook | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Score each deblurrer on each pair; returns (per-image rows, summary rows).

    ``on_pair(key, blurred, sharp, outputs)``, when given, is called after each pair with the uint8
    images and the outputs of the deblurrers that ran on it (``{spec: uint8 image}``).
    """
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
        x = to_tensor(blur)[None].float().div(255).to(device)
        outputs: dict[str, np.ndarray] = {}
        for spec, model in models:
            if model.needs_kernel and kernel is None:
                continue
            k = torch.from_numpy(kernel)[None].to(device) if kernel is not None else None
            t0 = time.perf_counter()
            with torch.no_grad():
                y = model(x, k)
            seconds = time.perf_counter() - t0
            out = (to_image(y[0].clamp(0, 1)) * 255).round().astype(np.uint8)
            rows.append({"pair": key, "deblurrer": spec, "seconds": seconds, **score_pair(out, sharp, ("skimage",))})
            outputs[spec] = out
        if on_pair is not None:
            on_pair(key, blur, sharp, outputs)
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
    """CLI entry point; returns the exit status (2, after one ``error: ...`` line, on bad input)."""
    return run_main(_main, argv)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", required=True, type=Path, help="pair folder (blur/, sharp/, kernels/)")
    ap.add_argument("--deblurrer", action="append", default=None, help="name or checkpoint (repeatable)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--limit", type=int, default=None, help="score the first N pairs only")
    ap.add_argument("--out", type=Path, default=None, help="write per-image CSV, summary markdown and JSON here")
    ap.add_argument(
        "--html", action="store_true", help="also write OUT/report.html: scores, chart and before/after sliders"
    )
    ap.add_argument("--html-pairs", type=int, default=12, help="pairs that get a slider on the page (default 12)")
    ap.add_argument("--html-side", type=int, default=512, help="longest image side on the page, px (default 512)")
    ap.add_argument(
        "--html-format", choices=("jpg", "png"), default="jpg", help="images on the page: jpg (quality 95) or png"
    )
    return ap


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.html and args.out is None:
        raise UsageError("--html needs --out (the page is written to OUT/report.html)")
    if args.html and (args.html_pairs < 0 or args.html_side < 8):
        raise UsageError("--html-pairs must be >= 0 and --html-side >= 8")
    specs = args.deblurrer or ["identity", "unsharp", "wiener", "richardson_lucy"]
    shown: list[Any] = []
    hook = _keep_for_page(shown, args.html_pairs, args.html_side) if args.html else None
    rows, summary = compare(args.pairs, specs, args.device, args.limit, on_pair=hook)
    table = markdown_table(summary, ["deblurrer", "pairs", "psnr", "ssim_skimage", "seconds_per_image"])
    print(table)
    if args.out is not None:
        _write(args, rows, summary, table, shown)
    return 0


def _keep_for_page(shown: list[Any], n_pairs: int, side: int) -> OutputHook:
    """An ``on_pair`` hook that keeps the first ``n_pairs`` pairs, shrunk to ``side`` px, in ``shown``."""
    from benchmarks.html_report import ReportPair, reduce_for_display

    def hook(key: str, blur: np.ndarray, sharp: np.ndarray, outputs: dict[str, np.ndarray]) -> None:
        if len(shown) < n_pairs:
            shown.append(
                ReportPair(
                    key,
                    reduce_for_display(blur, side),
                    reduce_for_display(sharp, side),
                    {k: reduce_for_display(v, side) for k, v in outputs.items()},
                )
            )

    return hook


def _write(
    args: argparse.Namespace, rows: list[dict[str, Any]], summary: list[dict[str, Any]], table: str, shown: list[Any]
) -> None:
    """Per-image CSV, summary markdown and JSON under ``--out``, and the page with ``--html``."""
    from blurkit.io import atomic_write_bytes

    atomic_write_bytes(args.out / "per_image.csv", csv_bytes(rows))
    atomic_write_bytes(args.out / "summary.md", (table + "\n").encode())
    meta = metadata(args.device)
    write_json(args.out / "summary.json", {"metadata": meta, "pairs": str(args.pairs), "summary": summary})
    if args.html:
        from benchmarks.html_report import write_report

        page = write_report(
            args.out / "report.html",
            summary,
            rows,
            shown,
            title=f"Deblurring comparison on {args.pairs.name or args.pairs}",
            meta={"pairs": str(args.pairs), "date": meta["date"], "commit": meta["commit"], "device": args.device},
            image_format=args.html_format,
        )
        print(f"wrote {page}")


if __name__ == "__main__":
    sys.exit(main())
