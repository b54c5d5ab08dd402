"""Model runtime: median latency per image, parameter count and MACs of a deblurrer.

Usage::

    python -m benchmarks.runtime --model identity [--device cuda] [--height 720 --width 1280]

Latency is the median of ``--repeats`` timed calls after ``--warmup`` untimed ones, synchronising the
GPU (``benchmarks._common.time_it``), batch 1, under ``torch.inference_mode``. Parameters and MACs are
reported for deblurrers built on an ``nn.Module``: the deblurrer itself, or the module found at its
attribute ``module`` or ``net`` (the convention for ``models/`` wrappers). MACs come from
``torch.utils.flop_counter.FlopCounterMode`` (FLOPs / 2; it counts matmuls and convolutions, not
elementwise work); both are empty for non-torch (classical) deblurrers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from benchmarks._common import markdown_table, metadata, time_it, write_json
from blurkit.scripting import USER_ERRORS, run_main

MODULE_ATTRS = ("module", "net")


def find_module(deblurrer: Any) -> Any | None:
    """The ``nn.Module`` behind a deblurrer (itself, or its ``module`` / ``net`` attribute), if any."""
    from torch import nn

    if isinstance(deblurrer, nn.Module):
        return deblurrer
    for name in MODULE_ATTRS:
        m = getattr(deblurrer, name, None)
        if isinstance(m, nn.Module):
            return m
    return None


def count_macs(fn: Any, x: Any) -> int:
    """Multiply–accumulates of ``fn(x)`` counted by FlopCounterMode (FLOPs // 2)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        fn(x)
    return int(counter.get_total_flops()) // 2


def measure_runtime(
    spec: str, device: str = "cpu", height: int = 720, width: int = 1280, repeats: int = 10, warmup: int = 2
) -> dict[str, Any]:
    """Latency, parameters and MACs of the deblurrer ``spec`` on one (1, 3, height, width) image.

    Raises:
        ValueError: non-positive sizes or counts, or an unknown model spec.
    """
    import torch

    from models.base import load_deblurrer

    if height < 1 or width < 1 or repeats < 1 or warmup < 0:
        raise ValueError(f"need positive sizes and repeats, got {height}x{width}, repeats={repeats}, warmup={warmup}")
    model = load_deblurrer(spec, device=device)
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)).to(device)
    kernels = torch.full((1, 15, 15), 1 / 225.0, device=device) if getattr(model, "needs_kernel", False) else None

    def call() -> Any:
        with torch.inference_mode():
            return model(x, kernels) if kernels is not None else model(x)

    seconds = time_it(call, repeats=repeats, warmup=warmup, device=device)
    module = find_module(model)
    params = sum(p.numel() for p in module.parameters()) if module is not None else None
    macs = count_macs(lambda t: model(t, kernels) if kernels is not None else model(t), x) if module is not None else None
    return {
        "model": getattr(model, "name", spec), "device": device, "size": f"{width}x{height}",
        "ms_per_image": seconds * 1000.0, "params_M": params / 1e6 if params is not None else None,
        "gmacs": macs / 1e9 if macs is not None else None,
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2, after one ``error: ...`` line, on bad input)."""
    return run_main(_main, argv, errors=(*USER_ERRORS, OSError))


def _main(argv: list[str] | None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.runtime", description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--out", default="runs/runtime")
    a = ap.parse_args(argv)
    row = measure_runtime(a.model, a.device, a.height, a.width, a.repeats, a.warmup)
    write_json(Path(a.out) / f"{row['model']}_{a.device.replace(':', '')}.json", {"meta": metadata(a.device), **row})
    print(markdown_table([row], list(row)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
