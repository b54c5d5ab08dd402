"""``blurkit make`` throughput vs the floor: reading the sources and writing the same images alone.

    python -m benchmarks.speed_make [--quick]
    python -m benchmarks.speed --only make

Sources: 1280×720 PNGs (the first GoPro frames of the offline data folder when present, else
synthetic textures), copied to a temporary folder. Two jobs run with 2 worker processes each
(joblib's loky pool, which ``make`` itself uses):

- ``blurkit make`` (``make_dataset(workers=2)``, realistic preset: trajectory kernel, linear light,
  highlight boost, FFT/direct blur, Poisson–Gaussian noise; PNG out, with kernel, sidecar JSON,
  checksums and manifest; the compiled kernels warmed first, so no compiling is timed);
- the same with the ``deblurgan`` preset (display values, no noise), to separate the chain's cost;
- the floor a user's minimal script would need: decode each source and write two PNGs of it (the
  "blurred" and the "sharp" image) with OpenCV's default PNG settings (level 1, libpng's filters,
  zlib's matching), through ``cv2.imencode`` + a plain file write;
- the same floor writing its PNGs as ``make`` does by default (``blurkit.io.png_params()``: the
  ``rle`` mode), so that a faster encoder shows in both;
- a floor for like-for-like I/O: ``make`` writes the sharp image of a plain 8-bit RGB PNG source by
  copying the source's bytes (they decode to the same levels), so this floor decodes, encodes one PNG
  the way ``make`` does and copies the source file.

The ratio (make / floor, in pairs per second) is the number to watch; the target is ≥ 0.85 against the
first floor, and the notes give the ratios against the other two. A per-stage profile of one pair in
one process shows where ``make`` spends time beyond I/O.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import markdown_table
from blurkit.io import png_params

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gopro_frames"
OPENCV_PNG = tuple(png_params(1, "zlib"))  # level 1, libpng's filters: what cv2.imencode does when told nothing
PNG_PARAMS = tuple(png_params())  # the OpenCV parameters of the PNGs blurkit.io writes by default


def _sources(folder: Path, count: int) -> str:
    """Fill ``folder`` with ``count`` 1280×720 PNGs; returns where they came from."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    frames = sorted(SHARED.rglob("*.png"))[:count] if SHARED.is_dir() else []
    if len(frames) == count:
        for i, p in enumerate(frames):
            shutil.copyfile(p, folder / f"{i:04d}.png")
        return f"GoPro frames ({SHARED.name})"
    rng = np.random.default_rng(0)
    for i in range(count):
        base = rng.random((90, 160, 3)).astype(np.float32)
        img = cv2.resize(base, (1280, 720), interpolation=cv2.INTER_CUBIC)
        img = img + 0.08 * rng.standard_normal((720, 1280, 3)).astype(np.float32)
        cv2.imwrite(str(folder / f"{i:04d}.png"), np.clip(img * 255, 0, 255).astype(np.uint8), list(PNG_PARAMS))
    return "synthetic textures"


def _copy_pair(src: str, out: str, copy_sharp: bool = False, params: tuple[int, ...] = OPENCV_PNG) -> None:
    """The floor for one pair: decode the source once, encode (with ``params``) and write two PNGs
    (``copy_sharp``: encode one, and write the source's bytes as the other)."""
    import cv2

    data = np.fromfile(src, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{src}: cannot decode")
    name = Path(src).stem
    for sub in ("blur", "sharp"):
        if sub == "sharp" and copy_sharp:
            raw = data.tobytes()
        else:
            raw = cv2.imencode(".png", img, list(params))[1].tobytes()
        with open(Path(out) / sub / f"{name}.png", "wb") as f:
            f.write(raw)


def _floor_chunk(srcs: list[str], out: str, copy_sharp: bool, params: tuple[int, ...]) -> None:
    import cv2

    cv2.setNumThreads(1)
    for s in srcs:
        _copy_pair(s, out, copy_sharp, params)


def run_floor(
    src: Path, out: Path, workers: int = 2, copy_sharp: bool = False, params: tuple[int, ...] = OPENCV_PNG
) -> None:
    """Read + write only, in ``workers`` processes (chunks of 4 sources, like make), PNGs encoded
    with the OpenCV ``params``."""
    from joblib import Parallel, delayed

    (out / "blur").mkdir(parents=True, exist_ok=True)
    (out / "sharp").mkdir(parents=True, exist_ok=True)
    files = [str(p) for p in sorted(src.glob("*.png"))]
    chunks = [files[i : i + 4] for i in range(0, len(files), 4)]
    Parallel(n_jobs=workers)(delayed(_floor_chunk)(c, str(out), copy_sharp, params) for c in chunks)


def _median_time(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def profile_one(path: Path, preset: str = "realistic", repeats: int = 3) -> dict[str, float]:
    """Milliseconds per stage for one pair in this process (median of ``repeats``); the chain both as
    ``make`` runs it on the CPU (8-bit images straight to 8 bits, ``degrade_image8``) and through the
    float path (``apply_degradation``, then rounded; the same bytes)."""
    import torch

    from blurkit.io import encode_image, to_uint
    from blurkit.ops.cpu_chain import degrade_image8
    from blurkit.ops.degrade import apply_degradation, resolve_config, sample_degradation
    from blurkit.synth.manifest import sha256_bytes
    from blurkit.synth.sources import read_sharp8
    from blurkit.tensors import to_image, to_tensor

    config = resolve_config(preset)
    stages: dict[str, list[float]] = {}

    def tick(name: str, t0: float) -> float:
        t1 = time.perf_counter()
        stages.setdefault(name, []).append((t1 - t0) * 1000)
        return t1

    for r in range(repeats + 1):
        t = time.perf_counter()
        sharp8 = read_sharp8(path)
        t = tick("decode source", t)
        deg = sample_degradation(1000 + r, config)
        t = tick("sample kernel + parameters", t)
        blurred8 = degrade_image8(sharp8, deg.kernel, deg.record)
        t = tick("degrade as make runs it (8-bit to 8-bit, degrade_image8)", t)
        x = to_tensor(sharp8)[None].float() / 255.0
        blurred = to_uint(to_image(apply_degradation(x, torch.from_numpy(deg.kernel)[None], [deg.record])[0]))
        t = tick("degrade through the float path (apply_degradation, same bytes)", t)
        if not np.array_equal(blurred, blurred8):
            raise RuntimeError("degrade_image8 and apply_degradation disagree")
        b = encode_image(blurred8, ".png")
        t = tick("encode the blurred PNG", t)
        s = encode_image(sharp8, ".png")
        t = tick("encode the sharp PNG (make copies a plain RGB PNG source instead)", t)
        sha256_bytes(b), sha256_bytes(s)
        t = tick("sha256 of both", t)
        buf = io.BytesIO()
        np.save(buf, deg.kernel)
        json.dumps(deg.record, sort_keys=True)
        tick("kernel .npy + JSON", t)
    return {k: float(np.median(v[1:])) for k, v in stages.items()}


def run(device: str = "cpu", quick: bool = False) -> list[dict[str, Any]]:
    """Pairs per second of ``make_dataset(workers=2)`` and of the read+write floor, and their ratio."""
    from blurkit.synth import make_dataset

    count = 8 if quick else 24
    repeats = 1 if quick else 3
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="blurkit-speed-make-") as tmp:
        root = Path(tmp)
        origin = _sources(root / "src", count)
        runs = iter(range(10**6))

        def make() -> None:
            make_dataset(root / "src", root / f"make{next(runs)}", workers=2, progress=False)

        def make_plain() -> None:
            make_dataset(root / "src", root / f"make{next(runs)}", preset="deblurgan", workers=2, progress=False)

        def floor() -> None:
            run_floor(root / "src", root / f"floor{next(runs)}", workers=2)

        def floor_rle() -> None:
            run_floor(root / "src", root / f"floor{next(runs)}", workers=2, params=PNG_PARAMS)

        def floor_copy() -> None:
            run_floor(root / "src", root / f"floor{next(runs)}", workers=2, copy_sharp=True, params=PNG_PARAMS)

        os.environ.setdefault("BLURKIT_JIT", "always")  # the workers run compiled code, as a long job does
        make_dataset(root / "src", root / "warm", workers=2, progress=False, limit=4)  # pool start, JIT caches
        floor()
        t_floor = _median_time(floor, repeats)
        t_rle = _median_time(floor_rle, repeats)
        t_copy = _median_time(floor_copy, repeats)
        t_make = _median_time(make, repeats)
        t_plain = _median_time(make_plain, repeats)
        profile = profile_one(root / "src" / "0000.png", repeats=1 if quick else 3)
    floor_rate, make_rate = count / t_floor, count / t_make
    note = f"{count} × 1280×720 PNG from {origin}, 2 workers, device {device} (make runs on CPU workers)"
    copy_rate, plain_rate, rle_rate = count / t_copy, count / t_plain, count / t_rle
    rows.append({"section": "make", "impl": "read + write only (floor)", "pairs_per_s": floor_rate,
                 "ratio_vs_floor": 1.0, "note": note + "; OpenCV's default PNG settings"})
    rows.append({"section": "make", "impl": "read + write, PNGs as make writes them (rle floor)", "pairs_per_s": rle_rate,
                 "ratio_vs_floor": rle_rate / floor_rate, "note": "decode, 2 PNG encodes in blurkit's default mode"})
    rows.append({"section": "make", "impl": "read + write, sharp copied (copy floor)", "pairs_per_s": copy_rate,
                 "ratio_vs_floor": copy_rate / floor_rate, "note": "decode, 1 PNG encode as make does, source bytes copied"})
    for name, rate, target in (("realistic", make_rate, 0.85), ("deblurgan: display values, no noise", plain_rate, 0.95)):
        rows.append({"section": "make", "impl": f"blurkit make ({name})", "pairs_per_s": rate,
                     "ratio_vs_floor": rate / floor_rate,
                     "note": f"target >= {target}; {rate / rle_rate:.2f} x the rle floor, {rate / copy_rate:.2f} x the copy floor"})
    for stage, ms in profile.items():
        rows.append({"section": "make", "impl": f"  one pair, 1 process: {stage}", "ms_per_pair": ms})
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed_make", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 images, one repeat (smoke test)")
    args = parser.parse_args()
    print(markdown_table(run(quick=args.quick), ["impl", "pairs_per_s", "ratio_vs_floor", "ms_per_pair", "note"]))
