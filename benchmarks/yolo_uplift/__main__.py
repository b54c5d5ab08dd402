"""``python -m benchmarks.yolo_uplift``: run a study from the command line and write its outputs."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from benchmarks.yolo_uplift.config import build_parser, config_from_args
from benchmarks.yolo_uplift.report import markdown_summary, write_outputs
from benchmarks.yolo_uplift.study import run_study
from blurkit.scripting import run_main

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2, after one ``error: ...`` line, on bad input)."""
    return run_main(_main, argv)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    result = run_study(config, progress=not args.quiet)
    paths = write_outputs(result, config, config.device, result.weights)
    print(markdown_summary(result, config))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
