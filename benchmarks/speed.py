"""Speed, measured side by side with the tools users would otherwise pick.

    python -m benchmarks.speed                    # every section, CPU
    python -m benchmarks.speed --device cuda      # GPU rows too
    python -m benchmarks.speed --only kernels,blur --quick --json out.json

Sections (each a module with ``run(device, quick) -> rows``): ``kernels`` (kernels per second),
``blur`` (per-image blur vs OpenCV/SciPy/kornia/albumentations/deepinv), ``metrics`` (PSNR+SSIM vs
scikit-image), ``make`` (``blurkit make`` pairs/s vs decode+encode alone). Every number comes from a
warm-up followed by the median of repeats, in the same process as its peers.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from benchmarks._common import markdown_table, metadata, write_json

SECTIONS = {
    "kernels": "benchmarks.speed_kernels",
    "blur": "benchmarks.speed_blur",
    "metrics": "benchmarks.speed_metrics",
    "make": "benchmarks.speed_make",
}


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        for c in r:
            if c != "section" and c not in cols:
                cols.append(c)
    return cols


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections ({', '.join(SECTIONS)})")
    parser.add_argument("--quick", action="store_true", help="few repeats, small sizes (smoke test)")
    parser.add_argument("--json", default=None, help="also write rows + metadata to this JSON file")
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in names if s not in SECTIONS]
    if unknown:
        print(f"error: --only: unknown section(s) {', '.join(unknown)}", file=sys.stderr)
        return 2
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print("error: --device cuda: CUDA is not available", file=sys.stderr)
            return 2
    meta = metadata(args.device)
    print(f"machine: {meta['machine']} | torch {meta['torch']} | commit {meta['commit']} | {meta['date']}")
    payload: dict[str, Any] = {"metadata": meta, "sections": {}}
    for name in names:
        module = importlib.import_module(SECTIONS[name])
        rows = module.run(device=args.device, quick=args.quick)
        payload["sections"][name] = rows
        print(f"\n### {name}\n")
        print(markdown_table(rows, _columns(rows)))
    if args.json:
        write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
