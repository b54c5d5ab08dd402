"""``blurkit average``: real motion blur from consecutive high-frame-rate video frames (GoPro style).

A camera that integrates light over its exposure records the mean of the scene's radiance over that
time. Averaging N consecutive frames of a 240 fps video in **linear light** (display → linear, mean,
→ display) reproduces that, with real object and camera motion; the middle frame is the sharp
target. This is how the GoPro deblurring dataset (Nah et al. 2017) was made.

Layout: every folder holding frames is one sequence; its frames are sorted by file name. Windows do
not overlap by default (``stride`` = window). With a window *range* ``(lo, hi)``, each pair draws its
window size N from its own seed; windows sit in slots of ``hi`` frames (the stride's default), each
centred on the slot's middle frame, so a pair never depends on the sizes drawn for other pairs.

The sharp target is frame ``N // 2`` of the window (the middle one for odd N, the later of the two
middle frames for even N). Pair names and keys come from the sharp frame's relative path, so the
output layout and manifest are those of ``blurkit make`` (without ``kernels/``); a row records
``kernel_source=frames``, the window size, stride, first/last frame and the full frame list (JSON).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from blurkit import __version__
from blurkit._rng import as_generator, item_seed
from blurkit.io import read_image, to_uint
from blurkit.ops.color import from_linear, parse_response, to_linear
from blurkit.synth.items import check_seed, output_name
from blurkit.synth.job import Item, Job, MakeResult, bind_item
from blurkit.synth.options import JobOptions, check_limit
from blurkit.synth.outputs import PairFormat, write_pair
from blurkit.synth.runner import run_job
from blurkit.synth.sources import SourceSet, check_folders, resolve_sources

#: Longest window accepted (frames).
MAX_WINDOW = 100_000


def parse_window(window: int | str | Sequence[int]) -> tuple[int, int]:
    """A fixed window ``7`` / ``"7"`` or a range ``"5,13"`` / ``(5, 13)`` → ``(lo, hi)``.

    >>> parse_window("5,13"), parse_window(7)
    ((5, 13), (7, 7))
    """
    try:
        if isinstance(window, str):
            parts = [int(v) for v in window.split(",")]
        elif isinstance(window, (int, np.integer)):
            parts = [int(window)]
        else:
            parts = [int(v) for v in window]
    except (TypeError, ValueError):
        raise ValueError(f"window: expected N or LO,HI (frames), got {window!r}") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or parts[0] < 1 or parts[0] > parts[1]:
        raise ValueError(f"window: expected N >= 1 or LO,HI with 1 <= LO <= HI, got {window!r}")
    return parts[0], parts[1]


def window_size(seed: int, window: tuple[int, int]) -> int:
    """The window size of one pair: fixed, or drawn uniformly in ``[lo, hi]`` from the pair's seed."""
    lo, hi = window
    if lo == hi:
        return lo
    return int(as_generator(seed).integers(lo, hi + 1))


def plan_windows(
    src: str | os.PathLike[str] | SourceSet,
    seed: int,
    window: tuple[int, int],
    stride: int | None = None,
    limit: int | None = None,
) -> list[Item]:
    """The pairs of a frame-averaging run, in a fixed order (sequence, then time).

    Each folder holding frames is a sequence (frames sorted by name). Slots of ``hi`` frames start
    every ``stride`` frames (default ``hi``: no overlap); a slot too short at the end is dropped.
    """
    hi = window[1]
    stride = hi if stride is None else stride
    if stride < 1:
        raise ValueError(f"stride: must be >= 1, got {stride}")
    check_limit(limit)
    sources = src if isinstance(src, SourceSet) else resolve_sources(src)
    sequences: dict[str, list[tuple[str, Path]]] = {}
    for s in sources.sources:
        folder = str(PurePosixPath(s.rel).parent)
        sequences.setdefault(folder, []).append((PurePosixPath(s.rel).name, s.path))
    items: list[Item] = []
    for folder in sorted(sequences):
        frames = sorted(sequences[folder])
        rels = [n if folder == "." else f"{folder}/{n}" for n, _ in frames]
        for start in range(0, len(frames) - hi + 1, stride):
            mid = start + hi // 2
            key = rels[mid]
            pair_seed = item_seed(seed, key)
            n = window_size(pair_seed, window)
            first = mid - n // 2
            sel = range(first, first + n)
            items.append(
                Item(
                    source=frames[mid][1],
                    rel=key,
                    variant=0,
                    key=key,
                    name=output_name(str(PurePosixPath(key).with_suffix(""))),
                    seed=pair_seed,
                    frames=tuple(frames[i][1] for i in sel),
                    frame_rels=tuple(rels[i] for i in sel),
                )
            )
    return items[:limit] if limit is not None else items


def average_linear(frames: Sequence[np.ndarray], response: str = "srgb") -> np.ndarray:
    """Mean of display-referred float RGB frames in linear light, back to display values (float32).

    Accumulates in float64. With ``response="linear"`` it is the plain mean of the display values.

    >>> a, b = np.zeros((2, 2, 3), np.float32), np.ones((2, 2, 3), np.float32)
    >>> float(average_linear([a, b], "linear")[0, 0, 0])
    0.5
    >>> round(float(average_linear([a, b], "srgb")[0, 0, 0]), 4)  # sRGB of linear 0.5
    0.7354
    """
    parse_response(response)
    if len(frames) == 0:
        raise ValueError("frames: at least one frame is needed")
    shape = np.asarray(frames[0]).shape
    acc = np.zeros(shape, dtype=np.float64)
    for f in frames:
        arr = np.asarray(f)
        if arr.shape != shape:
            raise ValueError(f"frames: sizes differ ({arr.shape} vs {shape})")
        acc += to_linear(arr.astype(np.float64), response)
    return from_linear(acc / len(frames), response).astype(np.float32)


def _average_one(
    item: Item, out: Path, response: str, stride: int, form: PairFormat, max_pixels: int
) -> dict[str, Any]:
    frames: list[np.ndarray] = []
    for path in item.frames:
        img = read_image(path, max_pixels)
        if frames and img.shape != frames[0].shape:
            raise ValueError(
                f"{path}: frame size {img.shape[1]}x{img.shape[0]} differs from {item.frame_rels[0]} "
                f"({frames[0].shape[1]}x{frames[0].shape[0]}) in the window of {item.rel}"
            )
        frames.append(img)
    sharp8 = to_uint(frames[len(frames) // 2])
    blurred = average_linear(frames, response)
    record = {
        "kernel_source": "frames",
        "window": len(item.frames),
        "stride": stride,
        "response": response,
        "frame_first": item.frame_rels[0],
        "frame_last": item.frame_rels[-1],
        "frames": json.dumps(list(item.frame_rels)),
    }
    return write_pair(out, item, form, sharp8, blurred, None, record)


def average_frames(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    window: int | str | Sequence[int] = 7,
    stride: int | None = None,
    seed: int = 0,
    response: str = "srgb",
    *,
    options: JobOptions | None = None,
    **job: Any,
) -> MakeResult:
    """Average windows of consecutive frames into blurry/sharp pairs (see the module docstring).

    Args:
        src: folder of sequences (each folder holding frames is one), a glob pattern or a list file.
        out: output folder, same layout and manifest as :func:`blurkit.synth.make_dataset`.
        window: frames per pair, fixed (``7``) or a range (``"5,13"``) drawn per pair from its seed.
        stride: frames between window slots (default: the largest window, no overlap).
        seed: base seed (only used to draw window sizes from a range).
        response: tone curve for linearisation: ``srgb``, ``gamma:G`` or ``linear``.
        options, **job: how the job runs, as for :func:`blurkit.synth.make_dataset`
            (:class:`blurkit.synth.JobOptions`, or its fields by name).

    Returns:
        A :class:`MakeResult`; failures (unreadable frames, mixed sizes) are listed in ``errors.csv``.

    Raises:
        ValueError: bad arguments, or a window longer than every sequence (no pair could be made).
        OutputError: writing to ``out`` failed (disk full, read-only); pairs written stay complete.
    """
    opts = JobOptions.build(options, **job)
    check_seed(seed)
    win = parse_window(window)
    if win[1] > MAX_WINDOW:
        raise ValueError(f"window: at most {MAX_WINDOW} frames, got {window!r}")
    parse_response(response)
    stride_v = win[1] if stride is None else int(stride)
    out_p = Path(out)
    sources = resolve_sources(src)
    check_folders(sources, out_p)
    items = plan_windows(sources, seed, win, stride_v, opts.limit)
    if not items and sources.sources and opts.limit != 0:
        raise ValueError(_window_too_long(sources, win[1]))
    settings = {
        "blurkit_version": __version__,
        "kind": "average",
        "seed": seed,
        "window": list(win),
        "stride": stride_v,
        "response": response,
        **opts.settings(),
        "sources": sources.fingerprint(),
    }
    fn = bind_item(_average_one, out_p, response, stride_v, opts.pair_format, opts.max_pixels)
    return run_job(Job(out=out_p, items=items, settings=settings, fn=fn, kernel=False, desc="blurkit average"), opts)


def _window_too_long(sources: SourceSet, hi: int) -> str:
    counts: dict[str, int] = {}
    for s in sources.sources:
        folder = str(PurePosixPath(s.rel).parent)
        counts[folder] = counts.get(folder, 0) + 1
    longest = max(counts, key=lambda k: counts[k])
    return (
        f"window: {hi} frames is longer than every sequence (the longest, {longest!r}, has "
        f"{counts[longest]} frame(s)); pass a shorter --window"
    )


__all__ = ["average_frames", "average_linear", "parse_window", "plan_windows", "window_size"]
