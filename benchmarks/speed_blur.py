"""Blur speed: ``blurkit.ops.convolve`` against the tools a user would pick instead, in the same run.

One 1280x720 RGB float32 image, kernel sizes 15, 31 and 63. Peers:

- OpenCV ``cv2.filter2D`` on the HxWx3 image with the flipped kernel (``BORDER_REFLECT_101``);
- SciPy ``scipy.signal.fftconvolve`` over axes (0, 1), ``mode="same"`` (zero border, its cheapest use);
- kornia ``filters.filter2d`` with the same kernel, and ``filters.motion_blur`` (its own straight-line
  kernel of that size);
- albumentations ``MotionBlur`` on the uint8 image (its own kernel of that size; sampling included);
- deepinv ``MotionBlurGenerator`` + ``Blur`` when deepinv is installed.

``ratio_vs_best_peer`` is *best peer time / this time* (above 1: faster than the best peer), where the
best peer is the fastest of the peers that convolve a float32 image with the same arbitrary kernel
(OpenCV, SciPy, kornia ``filter2d``). On CUDA the section also measures the throughput, in images/s, of
a batch of RGB 1280x720 images with per-sample 31x31 kernels. ``--crossover`` times the direct and
FFT paths against each other over kernel sizes (how :data:`blurkit.ops.convolve.FFT_CROSSOVER_CPU`
and ``FFT_CROSSOVER_CUDA`` were chosen).

Run: ``python -m benchmarks.speed_blur [--device cuda] [--quick] [--crossover] [--json PATH]``
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch

from benchmarks._common import markdown_table, metadata, sync, time_it, write_json
from blurkit.ops.convolve import convolve
from blurkit.tensors import to_tensor

SECTION = "blur"
COLUMNS = [
    "section",
    "impl",
    "device",
    "kernel",
    "batch",
    "ms_per_image",
    "images_per_s",
    "ratio_vs_best_peer",
    "note",
]
SAME_KERNEL_PEERS = ("OpenCV filter2D", "SciPy fftconvolve", "kornia filter2d")


def _kernel(k: int, rng: np.random.Generator) -> np.ndarray:
    """A dense random non-negative k x k kernel summing to 1 (worst case: full support)."""
    kern = rng.random((k, k)).astype(np.float32)
    return kern / kern.sum()


def _row(impl: str, device: str, k: int, seconds: float, batch: int = 1, note: str = "") -> dict[str, Any]:
    ms = 1e3 * seconds / batch
    return {
        "section": SECTION,
        "impl": impl,
        "device": device,
        "kernel": k,
        "batch": batch,
        "ms_per_image": ms,
        "images_per_s": 1e3 / ms if ms > 0 else math.inf,
        "ratio_vs_best_peer": None,
        "note": note,
    }


Candidate = tuple[str, str, "Callable[[], Any] | None"]  # (impl, note, function; None: not available)


def _peers(img: np.ndarray, kern: np.ndarray, k: int, device: str, quick: bool = False) -> list[Candidate]:
    cands: list[Candidate] = []
    if device == "cpu":
        import cv2
        import scipy.signal

        flipped = np.ascontiguousarray(kern[::-1, ::-1])
        cands.append(
            (
                "OpenCV filter2D",
                "",
                partial(cv2.filter2D, img, -1, flipped, borderType=cv2.BORDER_REFLECT_101),
            )
        )
        cands.append(
            (
                "SciPy fftconvolve",
                "zero border",
                partial(scipy.signal.fftconvolve, img, kern[:, :, None], mode="same", axes=(0, 1)),
            )
        )
        try:
            import albumentations as A

            img8 = (img * 255).astype(np.uint8)
            aug = A.MotionBlur(blur_limit=(k, k), p=1.0)
            cands.append(("albumentations MotionBlur", "uint8, own line kernel", partial(aug, image=img8)))
        except ImportError:
            cands.append(("albumentations MotionBlur", "not installed", None))
    try:
        import kornia

        x = to_tensor(img, device)[None]
        kt = torch.from_numpy(np.ascontiguousarray(kern[::-1, ::-1])).unsqueeze(0).to(device)
        cands.append(("kornia filter2d", "", partial(kornia.filters.filter2d, x, kt, border_type="reflect")))
        cands.append(
            (
                "kornia motion_blur",
                "own line kernel",
                partial(kornia.filters.motion_blur, x, k, 35.0, 0.5, border_type="reflect"),
            )
        )
    except ImportError:
        cands.append(("kornia filter2d", "not installed", None))
    if quick:  # importing deepinv (and torchvision) alone takes seconds
        cands.append(("deepinv MotionBlurGenerator + Blur", "skipped in quick mode", None))
    else:
        cands.append(_deepinv_candidate(img, k, device))
    return cands


def _deepinv_candidate(img: np.ndarray, k: int, device: str) -> Candidate:
    name = "deepinv MotionBlurGenerator + Blur"
    try:
        import deepinv
    except ImportError:
        return (name, "deepinv not installed", None)
    x = to_tensor(img, device)[None]
    gen = deepinv.physics.generator.MotionBlurGenerator((k, k), device=device)
    physics = deepinv.physics.Blur(padding="reflect", device=device)

    def blur() -> torch.Tensor:
        return physics.A(x, **gen.step(batch_size=1))

    return (name, "own kernel, sampling included", blur)


def _time_interleaved(
    cands: list[Candidate], repeats: int, device: str, slow_s: float = 0.3, settle_s: float = 0.05
) -> list[float]:
    """Median seconds of each candidate, timed round-robin (one call each per round) after a warm-up.

    Interleaving puts every implementation under the same background load, which drifts a lot on a
    shared machine; timing each in its own block would not. Each call starts ``settle_s`` after the
    previous one: OpenMP worker threads (torch's, kornia's) keep spinning for a while after their
    work and would otherwise slow down whatever is timed next. A candidate whose warm-up call took
    more than ``slow_s`` is timed in 2 rounds only, to keep the run short.
    """
    fns = [fn for _, _, fn in cands]
    rounds = [0] * len(cands)
    for i, fn in enumerate(fns):
        if fn is not None:
            start = time.perf_counter()
            fn()
            sync(device)
            rounds[i] = repeats if time.perf_counter() - start < slow_s else min(repeats, 2)
    times: list[list[float]] = [[] for _ in cands]
    for r in range(repeats):
        for i, fn in enumerate(fns):
            if fn is not None and r < rounds[i]:
                time.sleep(settle_s)  # let the previous call's worker threads stop spinning
                times[i].append(time_it(fn, repeats=1, warmup=0, device=device))
    return [statistics.median(t) if t else math.nan for t in times]


def _fill_ratios(rows: list[dict]) -> None:
    for k in {r["kernel"] for r in rows}:
        for dev in {r["device"] for r in rows}:
            same = [r for r in rows if r["kernel"] == k and r["device"] == dev and r["batch"] == 1]
            peers = [
                r["ms_per_image"]
                for r in same
                if r["impl"] in SAME_KERNEL_PEERS and math.isfinite(r["ms_per_image"])
            ]
            if not peers:
                continue
            best = min(peers)
            for r in same:
                if math.isfinite(r["ms_per_image"]):
                    r["ratio_vs_best_peer"] = best / r["ms_per_image"]


def run(device: str = "cpu", quick: bool = False) -> list[dict]:
    """Time blurkit's convolution and its peers; one row per (implementation, kernel size).

    Args:
        device: ``"cpu"`` or ``"cuda"`` (CPU-only peers are skipped on CUDA).
        quick: A smoke run in a few seconds (320x180 image, kernel 15 only, one repeat, no deepinv).

    Returns:
        Rows with ``section``, ``impl``, ``device``, ``kernel``, ``batch``, ``ms_per_image``,
        ``images_per_s``, ``ratio_vs_best_peer`` and ``note``.
    """
    rng = np.random.default_rng(0)
    height, width = (180, 320) if quick else (720, 1280)
    sizes = (15,) if quick else (15, 31, 63)
    repeats = 1 if quick else 7

    img = rng.random((height, width, 3), dtype=np.float32)
    x = to_tensor(img, device)
    rows: list[dict] = []
    for k in sizes:
        kern = _kernel(k, rng)
        kt = torch.from_numpy(kern).to(device)
        cands: list[Candidate] = [
            ("blurkit convolve (fft)", "", partial(convolve, x, kt, method="fft")),
            ("blurkit convolve (auto)", "", partial(convolve, x, kt)),
        ]
        if k <= 15 or device != "cpu":
            cands.append(("blurkit convolve (direct)", "", partial(convolve, x, kt, method="direct")))
        cands.extend(_peers(img, kern, k, device, quick))
        seconds = _time_interleaved(cands, repeats, device)
        rows.extend(
            _row(name, device, k, t, note=note) for (name, note, _), t in zip(cands, seconds, strict=True)
        )
    if device.startswith("cuda"):
        rows.extend(_cuda_batch_rows(device, quick))
    _fill_ratios(rows)
    return rows


def _cuda_batch_rows(device: str, quick: bool) -> list[dict]:
    """Throughput of a batch of 1280x720 RGB images with per-sample 31x31 kernels on the GPU."""
    batch, k = (8, 31) if quick else (128, 31)
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(batch, 3, 720, 1280, device=device, generator=gen)
    kern = torch.rand(batch, k, k, device=device, generator=gen)
    kern /= kern.sum(dim=(-1, -2), keepdim=True)
    x_half = x.half()
    rows = []
    for name, fn in [
        ("blurkit convolve (fft), batch", lambda: convolve(x, kern, method="fft")),
        ("blurkit convolve (auto), batch", lambda: convolve(x, kern)),
        ("blurkit convolve (direct), batch", lambda: convolve(x, kern, method="direct")),
        ("blurkit convolve (fft), batch, fp16", lambda: convolve(x_half, kern, method="fft")),
    ]:
        rows.append(
            _row(
                name, device, k, time_it(fn, repeats=3 if quick else 5, warmup=1, device=device), batch=batch
            )
        )
    try:
        import kornia

        flipped = kern.flip(-1, -2)
        seconds = time_it(
            lambda: kornia.filters.filter2d(x, flipped, border_type="reflect"),
            repeats=3,
            warmup=1,
            device=device,
        )
        rows.append(_row("kornia filter2d, batch", device, k, seconds, batch=batch))
    except ImportError:
        pass
    return rows


def measure_crossover(
    device: str = "cpu",
    sizes: tuple[int, ...] = (3, 5, 7, 9, 11, 13, 15, 21, 31),
    batch: int = 1,
    repeats: int = 7,
) -> list[dict]:
    """Time ``method="direct"`` against ``method="fft"`` on RGB 1280x720 images for each kernel size.

    The two methods alternate call by call (both see the same load on a busy machine); each row gives
    the median time of each and the median of the per-round ratios direct/FFT. The crossover is the
    smallest size from which that ratio stays above 1.
    """
    rng = np.random.default_rng(0)
    x = torch.rand(batch, 3, 720, 1280, device=device)
    rows = []
    for k in sizes:
        kern = torch.from_numpy(rng.random((batch, k, k)).astype(np.float32)).to(device)
        direct_fn = partial(convolve, x, kern, method="direct")
        fft_fn = partial(convolve, x, kern, method="fft")
        direct: list[float] = []
        fft: list[float] = []
        for _ in range(repeats):
            direct.append(time_it(direct_fn, repeats=1, warmup=1 if not direct else 0, device=device))
            fft.append(time_it(fft_fn, repeats=1, warmup=1 if not fft else 0, device=device))
        ratio = statistics.median(d / f for d, f in zip(direct, fft, strict=True))
        rows.append(
            {
                "section": "blur-crossover",
                "device": device,
                "kernel": k,
                "batch": batch,
                "direct_ms": 1e3 * statistics.median(direct),
                "fft_ms": 1e3 * statistics.median(fft),
                "direct_over_fft": ratio,
                "faster": "fft" if ratio > 1 else "direct",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--crossover", action="store_true", help="time direct vs FFT over kernel sizes instead"
    )
    parser.add_argument("--json", default=None, help="also write the rows and run metadata to this JSON file")
    args = parser.parse_args()
    meta = metadata(args.device)
    print(", ".join(f"{k}: {v}" for k, v in meta.items()))
    if args.crossover:
        batch = 32 if args.device.startswith("cuda") else 1
        rows = measure_crossover(args.device, batch=batch)
        print(
            markdown_table(
                rows, ["device", "kernel", "batch", "direct_ms", "fft_ms", "direct_over_fft", "faster"]
            )
        )
    else:
        rows = run(args.device, quick=args.quick)
        print(markdown_table(rows, COLUMNS))
    if args.json:
        write_json(args.json, {"metadata": meta, "rows": rows})


if __name__ == "__main__":
    main()
