"""Speed of the metrics: PSNR + SSIM of one 1280×720 RGB pair, blurkit vs scikit-image, same run.

``python -m benchmarks.speed_metrics [--device cuda] [--quick]`` prints a markdown table. Each
implementation scores the same uint8 pair (a real GoPro frame and a real blur of it when
``../shared/data`` is there, else a synthetic pair): scikit-image's ``structural_similarity``
(Gaussian σ = 1.5, population covariance, data_range 255, channel_axis −1) plus
``peak_signal_noise_ratio``, against ``blurkit.metrics.ssim`` (``skimage`` variant, and
``matlab3d``) plus ``blurkit.metrics.psnr``. Medians of repeated calls after a warm-up
(``benchmarks._common.time_it``); ``ratio`` is scikit-image's time over the row's time.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import markdown_table, time_it

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gopro_frames" / "GOPR0477_11_00"


def test_pair(height: int = 720, width: int = 1280) -> tuple[np.ndarray, np.ndarray, str]:
    """A (blurred, sharp) uint8 pair: real GoPro frames when available, else synthetic."""
    from blurkit.io import read_image, to_uint

    if (SHARED / "000001.png").is_file():
        frames = [read_image(SHARED / f"{k:06d}.png")[:height, :width] for k in range(1, 8)]
        lin = np.mean([np.where(f <= 0.04045, f / 12.92, ((f + 0.055) / 1.055) ** 2.4) for f in frames], axis=0)
        blur = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
        return to_uint(blur), to_uint(frames[3]), "GoPro GOPR0477_11_00 (7-frame blur vs frame 4)"
    rng = np.random.default_rng(0)
    import cv2

    sharp = cv2.GaussianBlur(rng.random((height, width, 3)).astype(np.float32), (0, 0), 2)
    sharp = (sharp - sharp.min()) / (sharp.max() - sharp.min())
    blur = cv2.blur(sharp, (9, 9))
    return to_uint(blur), to_uint(sharp), "synthetic smooth noise"


def run(device: str = "cpu", quick: bool = False) -> list[dict[str, Any]]:
    """Time the implementations; rows have ``section``, ``impl``, ``ms_per_pair``, ``ratio``, ``psnr``, ``ssim``."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from blurkit.metrics import psnr, ssim
    from blurkit.tensors import to_tensor

    blur, sharp, source = test_pair()
    repeats = 3 if quick else 9
    section = f"PSNR+SSIM, one 1280x720 RGB pair ({source})"

    def sk() -> tuple[float, float]:
        s = structural_similarity(
            blur, sharp, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
        )
        return peak_signal_noise_ratio(sharp, blur, data_range=255), s

    impls: list[tuple[str, Any, str]] = [
        (f"scikit-image {_skimage_version()} (numpy, float64)", sk, "cpu"),
        ("blurkit skimage variant (cpu)", lambda: (psnr(blur, sharp), ssim(blur, sharp, "skimage")), "cpu"),
        ("blurkit matlab3d variant (cpu)", lambda: (psnr(blur, sharp), ssim(blur, sharp, "matlab3d")), "cpu"),
    ]
    if str(device).startswith("cuda"):
        bt = to_tensor(blur, device)[None]
        st = to_tensor(sharp, device)[None]
        impls.append(
            ("blurkit skimage variant (cuda tensors)", lambda: (psnr(bt, st), ssim(bt, st, "skimage")), device)
        )
    rows: list[dict[str, Any]] = []
    for name, fn, dev in impls:
        seconds = time_it(fn, repeats=repeats if "scikit" not in name else max(3, repeats // 2), warmup=1, device=dev)
        p, s = fn()
        rows.append({"section": section, "impl": name, "ms_per_pair": seconds * 1000, "psnr": float(p), "ssim": float(s)})
    base = float(rows[0]["ms_per_pair"])
    for r in rows:
        r["ratio"] = base / float(r["ms_per_pair"])
    return rows


def _skimage_version() -> str:
    import skimage

    return str(getattr(skimage, "__version__", "?"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.speed_metrics", description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    rows = run(a.device, a.quick)
    print(markdown_table(rows, ["impl", "ms_per_pair", "ratio", "psnr", "ssim"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
