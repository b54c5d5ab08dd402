"""Kernels per second: blurkit's compiled trajectories vs the reference algorithm in plain Python and
vs the straight-line kernel generators of kornia and albumentations.

The plain-Python baseline follows DeblurGAN's ``motion_blur`` algorithm step by step (a Python loop
over 2000 samples per trajectory, then a per-sample bilinear splat into a 64×64 canvas), which is what
users of that code run today.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from benchmarks._common import markdown_table


def _reference_kernel(rng: np.random.Generator, canvas: int = 64, samples: int = 2000, max_len: float = 60.0) -> np.ndarray:
    """One kernel the way the reference scripts compute it: Python loops, complex arithmetic."""
    expl = float(rng.choice([0.01, 0.009, 0.008, 0.007, 0.005, 0.003]))
    centripetal = 0.7 * rng.random()
    prob_big = 0.2 * rng.random()
    gauss = 10 * rng.random()
    angle = math.radians(360 * rng.random())
    v = complex(math.cos(angle), math.sin(angle)) * expl
    x = [0j] * samples
    for t in range(samples - 1):
        nxt = 0j
        if rng.random() < prob_big * expl:
            nxt = 2 * v * complex(math.cos(math.pi + rng.random() - 0.5), math.sin(math.pi + rng.random() - 0.5))
        dv = nxt + expl * (gauss * complex(rng.standard_normal(), rng.standard_normal()) - centripetal * x[t]) * (max_len / (samples - 1))
        v += dv
        v = v / abs(v) * max_len / (samples - 1)
        x[t + 1] = x[t] + v
    xs = np.array(x)
    xs -= complex(xs.real.min(), xs.imag.min())
    xs += complex(canvas / 2 - xs.real.max() / 2, canvas / 2 - xs.imag.max() / 2)
    psf = np.zeros((canvas, canvas))
    for p in xs:
        x0, y0 = int(math.floor(p.real)), int(math.floor(p.imag))
        fx, fy = p.real - x0, p.imag - y0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                yy, xx = min(max(y0 + dy, 0), canvas - 1), min(max(x0 + dx, 0), canvas - 1)
                psf[yy, xx] += wx * wy
    return psf / psf.sum()


def _rate(fn: Any, n: int, repeats: int) -> float:
    fn(min(n, 8))  # warm-up (compilation)
    best = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(n)
        best.append(time.perf_counter() - t0)
    return n / float(np.median(best))


def run(device: str = "cpu", quick: bool = False) -> list[dict[str, Any]]:
    """Kernels per second for 2000-sample trajectories on a 64-px canvas (and line-kernel peers)."""
    from blurkit.kernels import TrajectoryParams, sample_kernels

    params = TrajectoryParams()  # DeblurGAN's defaults: 2000 samples, length 60
    n = 2000 if quick else 20000
    repeats = 2 if quick else 5
    rows: list[dict[str, Any]] = []
    counter = iter(range(10**9))
    ours_fixed = _rate(lambda m: sample_kernels(m, next(counter), params, size=65), n, repeats)
    ours_fit = _rate(lambda m: sample_kernels(m, next(counter), params), n, repeats)
    rng = np.random.default_rng(0)
    ref_n = 3 if quick else 20
    ref = _rate(lambda m: [_reference_kernel(rng) for _ in range(m)], ref_n, 1 if quick else 3)
    rows.append({"section": "kernels", "impl": "blurkit sample_kernels (65x65)", "kernels_per_s": ours_fixed})
    rows.append({"section": "kernels", "impl": "blurkit sample_kernels (fitted size)", "kernels_per_s": ours_fit})
    rows.append({"section": "kernels", "impl": "reference algorithm, plain Python", "kernels_per_s": ref})
    try:
        import kornia
        import torch

        gen = torch.Generator().manual_seed(0)

        def kornia_lines(m: int) -> None:
            angles = torch.rand(m, generator=gen) * 360
            dirs = torch.rand(m, generator=gen) * 2 - 1
            kornia.filters.get_motion_kernel2d(31, angles, dirs)

        rows.append({"section": "kernels", "impl": "kornia get_motion_kernel2d (line, 31)", "kernels_per_s": _rate(kornia_lines, n, repeats)})
    except ImportError:
        rows.append({"section": "kernels", "impl": "kornia (not installed)", "kernels_per_s": None})
    try:
        import albumentations as A

        blur = A.MotionBlur(blur_limit=(31, 31), p=1.0)

        def albu_kernels(m: int) -> None:
            for _ in range(m):
                blur.get_params()["kernel"]

        rows.append({"section": "kernels", "impl": "albumentations MotionBlur params (line, 31)", "kernels_per_s": _rate(albu_kernels, n // 10, repeats)})
    except (ImportError, TypeError, AttributeError, KeyError) as exc:
        rows.append({"section": "kernels", "impl": f"albumentations (skipped: {type(exc).__name__})", "kernels_per_s": None})
    for r in rows:
        r["ratio_vs_reference"] = r["kernels_per_s"] / ref if r["kernels_per_s"] else None
    return rows


if __name__ == "__main__":
    print(markdown_table(run(), ["impl", "kernels_per_s", "ratio_vs_reference"]))
