"""Köhler et al. (ECCV 2012) benchmark: the official PSNR protocol on the 48 real camera shakes.

Usage::

    python datasets/kohler.py                                   # download, verify, unpack, cache
    python -m benchmarks.kohler --root datasets/data/kohler --pred results/kohler_png
    python -m benchmarks.kohler --root datasets/data/kohler --model identity --device cuda
    python -m benchmarks.kohler --synthetic-speed [--images 48]  # time the protocol on full-size fakes

Expected layout under ``--root`` (see ``datasets/kohler.py``)::

    Blurry{i}_{j}.png                               the 48 blurred inputs (i = 1..4, j = 1..12)
    Image{i}/Kernel{j}/GroundTruth{i}_{j}_{k}.png   the ~199 sharp frames of each shake
    .cache/GroundTruth{i}_{j}.npy                   uint8 (N, H, W, 3) stacks, written on first use

Predictions (``--pred``) are matched by the trailing ``{i}_{j}`` of their names (``Blurry1_3.png``,
``Muller1_3.png`` and ``1_3.png`` all work) and must be lossless unless ``--allow-lossy``. Each image
is scored by :func:`blurkit.metrics.kohler_psnr` (max over frames, frame 30 of image 1 / kernel 3
skipped); the dataset score is the mean over the images (48 for the full benchmark).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import markdown_table, metadata, write_json
from benchmarks._pairs import check_lossless, finite_mean, is_image, read_uint8, write_csv, write_text
from blurkit.io import atomic_write_bytes
from blurkit.scripting import USER_ERRORS, UsageError, run_main

BLURRY_RE = re.compile(r"^Blurry(\d+)_(\d+)$")
PRED_RE = re.compile(r"(\d+)_(\d+)$")
FRAME_RE = re.compile(r"^GroundTruth(\d+)_(\d+)_(\d+)$")
N_IMAGES, N_KERNELS = 4, 12


@dataclass(frozen=True)
class KohlerItem:
    """One blurred benchmark image and where its ground-truth frames live."""

    image: int
    kernel: int
    blurred: Path
    frames_dir: Path


def find_kohler(root: str | Path) -> list[KohlerItem]:
    """The benchmark images under ``root`` (sorted by image, kernel).

    Raises:
        FileNotFoundError: naming ``root`` when no ``Blurry{i}_{j}.png`` is there, or naming the
            missing ground-truth folder of an image.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    items = []
    for p in sorted(root.iterdir()):
        m = BLURRY_RE.match(p.stem)
        if m and is_image(p):
            i, j = int(m.group(1)), int(m.group(2))
            frames_dir = root / f"Image{i}" / f"Kernel{j}"
            if not frames_dir.is_dir() and not _cache_path(root, i, j).is_file():
                raise FileNotFoundError(f"{frames_dir}: ground-truth frames of Blurry{i}_{j} missing")
            items.append(KohlerItem(i, j, p, frames_dir))
    if not items:
        raise FileNotFoundError(
            f"{root}: no Köhler benchmark found (expected Blurry{{i}}_{{j}}.png and Image{{i}}/Kernel{{j}}/; "
            "run python datasets/kohler.py)"
        )
    return sorted(items, key=lambda t: (t.image, t.kernel))


def _cache_path(root: Path, image: int, kernel: int) -> Path:
    return root / ".cache" / f"GroundTruth{image}_{kernel}.npy"


def frame_files(frames_dir: Path, image: int, kernel: int) -> list[Path]:
    """``GroundTruth{i}_{j}_{k}.png`` files of one shake, ordered by k; checks k = 1..N has no gap."""
    found = {}
    for p in frames_dir.iterdir():
        m = FRAME_RE.match(p.stem)
        if m and is_image(p) and (int(m.group(1)), int(m.group(2))) == (image, kernel):
            found[int(m.group(3))] = p
    if not found:
        raise FileNotFoundError(f"{frames_dir}: no GroundTruth{image}_{kernel}_*.png frames")
    ks = sorted(found)
    if ks != list(range(1, len(ks) + 1)):
        missing = sorted(set(range(1, ks[-1] + 1)) - set(ks))
        raise FileNotFoundError(f"{frames_dir}: frames {missing[:5]} of GroundTruth{image}_{kernel} missing")
    return [found[k] for k in ks]


def load_frames(root: str | Path, image: int, kernel: int, cache: bool = True) -> np.ndarray:
    """The (N, H, W, 3) uint8 ground-truth stack of one shake, memory-mapped from the .npy cache.

    The cache is written (atomically) the first time from the PNG frames.
    """
    root = Path(root)
    cpath = _cache_path(root, image, kernel)
    if cache and cpath.is_file():
        return np.load(cpath, mmap_mode="r")
    files = frame_files(root / f"Image{image}" / f"Kernel{kernel}", image, kernel)
    first = read_uint8(files[0])
    stack = np.empty((len(files), *first.shape), dtype=np.uint8)
    stack[0] = first
    for n, f in enumerate(files[1:], start=1):
        img = read_uint8(f)
        if img.shape != first.shape:
            raise ValueError(f"{f}: frame shape {img.shape} differs from {files[0].name} {first.shape}")
        stack[n] = img
    if cache:
        _save_npy(cpath, stack)
        return np.load(cpath, mmap_mode="r")
    return stack


def _save_npy(path: Path, arr: np.ndarray) -> None:
    import io

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def find_predictions(pred_dir: str | Path) -> dict[tuple[int, int], Path]:
    """Prediction files keyed by (image, kernel) from the trailing ``{i}_{j}`` of their names.

    Raises:
        FileNotFoundError: the folder is missing or holds no matching file.
        ValueError: two files claim the same (image, kernel).
    """
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"{pred_dir}: no such folder")
    out: dict[tuple[int, int], Path] = {}
    for p in sorted(pred_dir.iterdir()):
        m = PRED_RE.search(p.stem)
        if m and is_image(p):
            key = (int(m.group(1)), int(m.group(2)))
            if key in out:
                raise ValueError(f"{pred_dir}: both {out[key].name} and {p.name} look like image {key[0]} kernel {key[1]}")
            out[key] = p
    if not out:
        raise FileNotFoundError(f"{pred_dir}: no prediction named like <prefix>{{i}}_{{j}}.png")
    return out


def evaluate_kohler(
    root: str | Path,
    pred: str | Path | None = None,
    model: str | None = None,
    device: str = "cpu",
    allow_lossy: bool = False,
    cache: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Score predictions or a model on every benchmark image found under ``root``.

    Returns:
        ``{"rows": per-image rows, "summary": {"images", "psnr", "complete"}}``.

    Raises:
        ValueError / FileNotFoundError: bad arguments, layout or files (messages name them).
    """
    from tqdm import tqdm

    from blurkit.metrics import kohler_psnr

    if (pred is None) == (model is None):
        raise ValueError("give exactly one of --pred DIR or --model SPEC")
    items = find_kohler(root)
    preds: dict[tuple[int, int], Path] = {}
    runner = None
    if pred is not None:
        preds = find_predictions(pred)
        missing = [f"{it.image}_{it.kernel}" for it in items if (it.image, it.kernel) not in preds]
        if missing:
            raise FileNotFoundError(f"{pred}: no prediction for image_kernel {', '.join(missing[:6])}")
        check_lossless((preds[(it.image, it.kernel)] for it in items), allow_lossy)
    else:
        from benchmarks.gopro import _model_runner

        runner = _model_runner(str(model), device)
    rows = []
    for it in tqdm(items, desc="Köhler", unit="img", disable=not progress):
        frames = load_frames(root, it.image, it.kernel, cache=cache)
        out = runner(read_uint8(it.blurred)) if runner is not None else read_uint8(preds[(it.image, it.kernel)])
        if out.shape != frames.shape[1:]:
            raise ValueError(f"Blurry{it.image}_{it.kernel}: prediction shape {out.shape} differs from frames {frames.shape[1:]}")
        score = kohler_psnr(out, frames, image=it.image, kernel=it.kernel, device=device)
        rows.append(
            {"image": it.image, "kernel": it.kernel, "psnr": score.psnr, "best_frame": score.best_frame,
             "frames": len(score.frames)}
        )
    summary = {"images": len(rows), "psnr": finite_mean(r["psnr"] for r in rows), "complete": len(rows) == N_IMAGES * N_KERNELS}
    return {"rows": rows, "summary": summary}


def synthetic_speed(
    images: int = 4, frames: int = 199, size: int = 800, device: str = "cpu", seed: int = 0
) -> dict[str, Any]:
    """Time the protocol on synthetic sequences of the real size, read through the .npy cache path.

    Two distinct sequences are generated (a random smooth scene drifting by whole pixels plus noise)
    and cycled over ``images`` evaluations; the per-image time is extrapolated to the 48 images.
    """
    from blurkit.metrics import kohler_psnr

    rng = np.random.default_rng(seed)
    timings = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for s in range(min(2, images)):
            scene = _smooth_scene(rng, size + 40)
            drift = np.cumsum(rng.integers(-1, 2, (frames, 2)), axis=0).clip(-20, 20) + 20
            seq = np.stack([scene[dy : dy + size, dx : dx + size] for dy, dx in drift])
            p = Path(tmp) / f"seq{s}.npy"
            np.save(p, seq)
            paths.append(p)
            del seq
        for n in range(images):
            stack = np.load(paths[n % len(paths)], mmap_mode="r")
            pred = np.clip(stack[frames // 2].astype(np.int16) + rng.integers(-8, 9, stack.shape[1:]), 0, 255).astype(np.uint8)
            t0 = time.perf_counter()
            kohler_psnr(pred, stack, image=1 + n // 12, kernel=1 + n % 12, device=device)
            timings.append(time.perf_counter() - t0)
    per_image = float(np.median(timings))
    return {
        "images_timed": images, "frames": frames, "size": f"{size}x{size}", "device": device,
        "median_s_per_image": per_image, "projected_s_48_images": per_image * 48, "total_s_timed": float(sum(timings)),
    }


def _smooth_scene(rng: np.random.Generator, n: int) -> np.ndarray:
    import cv2

    base = rng.normal(size=(n, n, 3)).astype(np.float32)
    img = cv2.GaussianBlur(base, (0, 0), 4) * 6 + cv2.GaussianBlur(base, (0, 0), 1)
    img = (img - img.min()) / (img.max() - img.min())
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2, after one ``error: ...`` line, on bad input)."""
    return run_main(_main, argv, errors=(*USER_ERRORS, OSError))


def _main(argv: list[str] | None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.kohler", description=__doc__.split("\n")[0])
    ap.add_argument("--root", help="prepared benchmark folder (see datasets/kohler.py)")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--pred", help="folder of predictions named <prefix>{i}_{j}.png")
    src.add_argument("--model", help="deblurrer spec for models.load_deblurrer")
    src.add_argument("--synthetic-speed", action="store_true", help="time the protocol on full-size synthetic data")
    ap.add_argument("--images", type=int, default=4, help="with --synthetic-speed: images to time (48 = full)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--allow-lossy", action="store_true")
    ap.add_argument("--no-cache", action="store_true", help="do not read or write the .npy frame caches")
    ap.add_argument("--out", default="runs/kohler")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if a.synthetic_speed:
        res = synthetic_speed(images=a.images, device=a.device)
        write_json(Path(a.out) / "synthetic_speed.json", {"meta": metadata(a.device), **res})
        print(markdown_table([res], list(res)))
        return 0
    if not a.root or not (a.pred or a.model):
        raise UsageError("give --root and one of --pred DIR / --model SPEC (or --synthetic-speed)")
    result = evaluate_kohler(a.root, a.pred, a.model, a.device, a.allow_lossy, not a.no_cache, not a.quiet)
    out = Path(a.out)
    md = "## Köhler et al. 2012\n\n" + markdown_table([result["summary"]], ["images", "psnr", "complete"])
    md += "\n\n" + markdown_table(result["rows"], ["image", "kernel", "psnr", "best_frame", "frames"])
    write_csv(out / "per_image.csv", result["rows"])
    write_json(out / "summary.json", {"benchmark": "kohler", "args": vars(a), "meta": metadata(a.device), **result})
    write_text(out / "summary.md", md + "\n")
    if not result["summary"]["complete"]:
        print(f"note: {result['summary']['images']} of 48 images found; the mean is not the benchmark score", file=sys.stderr)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
