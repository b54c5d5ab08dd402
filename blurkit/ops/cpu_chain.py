"""Chain 2 on the CPU, one image at a time, in NumPy and compiled code (no torch).

Each image runs three passes: linear light + highlight boost (:func:`linearise`), its own blur
(:func:`blurkit.ops._blur_np.blur_planes`; a local blur blends with the sharp scene), then clip +
noise + display values (:func:`finish`), optionally rounded to 8 bits in the same pass, then the JPEG
round trip. An image's bytes depend on its record and pixels only: not on other images of a batch,
the thread count or whether the compiled kernels or their NumPy twins ran (:mod:`blurkit._jit`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from blurkit.ops._blur_np import blur_planes
from blurkit.ops.color import KIND_CODES, display_thresholds, grid_levels, linear_table, parse_response
from blurkit.ops.jpeg import jpeg_round_trip8
from blurkit.ops.noise import EXACT_POISSON_BELOW, poisson_tables

#: Rows per block of the compiled passes (the cut does not change the result).
ROWS_PER_BLOCK = 32


def _threads() -> int:
    import numba

    return int(numba.get_num_threads())


def _rows(name: str, height: int, args: Callable[[int, int], tuple[Any, ...]]) -> None:
    """Run the compiled kernel ``name`` of :mod:`blurkit.ops._chain_cpu` over blocks of rows on the
    thread pool, or its NumPy twin over all rows at once while compiling is not worth it yet."""
    from blurkit import _jit
    from blurkit._threads import run_blocks
    from blurkit.ops import _chain_cpu

    kernel = getattr(_chain_cpu, name)
    if _jit.use_compiled(kernel):
        run_blocks(lambda r0, r1: kernel(*args(r0, r1)), height, ROWS_PER_BLOCK, _threads())
    else:
        from blurkit.ops import _chain_np

        getattr(_chain_np, name)(*args(0, height))


def linearise(src: np.ndarray | None, src8: np.ndarray | None, record: Mapping[str, Any]) -> np.ndarray:
    """Steps 1-2: linear light and highlight boost of float32 (3, H, W) ``src`` in [0, 1] or of uint8
    (H, W, 3) ``src8``, as float32 (3, H, W)."""
    h, w = src8.shape[:2] if src8 is not None else src.shape[1:]  # type: ignore[union-attr]
    f = np.empty((1, 1, 1), dtype=np.float32) if src is None else src
    b = np.empty((1, 1, 1), dtype=np.uint8) if src8 is None else src8
    out = np.empty((3, h, w), dtype=np.float32)
    response = str(record["response"])
    kind, g = parse_response(response)
    boost = float(record["boost"])
    gain = boost - 1.0 if boost > 1.0 else 0.0
    thr, ramp = float(record["highlight_threshold"]), record.get("highlight", "ramp") != "clipped"
    table, grid, code = linear_table(response), grid_levels(), KIND_CODES[kind]
    _rows("linearise_rows", h, lambda r0, r1: (f, b, src8 is not None, table, grid, code, g, gain, thr, ramp, out, r0, r1))
    return out


def finish(blurred: np.ndarray, record: Mapping[str, Any], out8: np.ndarray | None = None) -> np.ndarray:
    """Steps 4-6: clip, Poisson–Gaussian noise, clip, display values of blurred (3, H, W) planes, as
    float32 (3, H, W), or as 8-bit levels into ``out8`` (H, W, 3)."""
    h = blurred.shape[1]
    out = np.empty(blurred.shape if out8 is None else (1, 1, 1), dtype=np.float32)
    o8 = np.empty((1, 1, 1), dtype=np.uint8) if out8 is None else out8
    response = str(record["response"])
    kind, g = parse_response(response)
    shot, read, seed = float(record["shot"]), float(record["read"]), int(record["noise_seed"])
    cdf, guide = poisson_tables()
    thr, base = display_thresholds(response)
    tol = 1e-6 * max(1.0, g)
    _rows("finish_rows", h, lambda r0, r1: (
        blurred, out, o8, out8 is not None, seed, shot, read, float(EXACT_POISSON_BELOW), cdf, guide,
        KIND_CODES[kind], g, thr, base, tol, r0, r1,
    ))
    return out if out8 is None else o8


def blur(lin: np.ndarray, kernel: np.ndarray, record: Mapping[str, Any]) -> np.ndarray:
    """Step 3 on linear (3, H, W) planes: the blur, blended with the sharp scene outside a local region."""
    blurred = blur_planes(lin, np.asarray(kernel, dtype=np.float32), str(record["border"]), _threads())
    if not record.get("local"):
        return blurred
    from blurkit.ops.highlights import local_mask  # torch: only for local blurs

    mask = local_mask(int(record["local_seed"]), lin.shape[1], lin.shape[2]).numpy()
    return mask * blurred + (np.float32(1.0) - mask) * lin


def check_record(record: Mapping[str, Any]) -> None:
    if int(record.get("chain", 1)) != 2:
        raise ValueError(f"record: this applies chain 2, got a chain {record.get('chain', 1)} record")


def degrade_planes(x: np.ndarray, kernel: np.ndarray, record: Mapping[str, Any]) -> np.ndarray:
    """Chain 2 on float32 (3, H, W) display values in [0, 1]: float32 (3, H, W) display values."""
    check_record(record)
    out = finish(blur(linearise(np.ascontiguousarray(x, dtype=np.float32), None, record), kernel, record), record)
    q = record.get("jpeg_quality")
    if q is None:
        return out
    from blurkit.io import to_uint

    return jpeg_round_trip8(to_uint(out.transpose(1, 2, 0)), int(q)).transpose(2, 0, 1).astype(np.float32) / 255.0


def degrade_image8(image: np.ndarray, kernel: np.ndarray, record: Mapping[str, Any]) -> np.ndarray:
    """Chain 2 on one 8-bit (H, W, 3) RGB image, straight to 8-bit output (H, W, 3).

    The same bytes as ``blurkit.io.to_uint`` of :func:`blurkit.ops.apply_degradation` on
    ``image / 255`` with the same record, without float copies of the image on either side.

    >>> from blurkit.ops import PRESETS, sample_degradation
    >>> d = sample_degradation(1, PRESETS["realistic"])
    >>> degrade_image8(np.full((80, 80, 3), 90, np.uint8), d.kernel, d.record).dtype
    dtype('uint8')
    """
    img = np.ascontiguousarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image: expected an (H, W, 3) uint8 array, got {img.dtype} {img.shape}")
    check_record(record)
    out = finish(blur(linearise(None, img, record), kernel, record), record, np.empty(img.shape, dtype=np.uint8))
    q = record.get("jpeg_quality")
    return out if q is None else jpeg_round_trip8(out, int(q))
