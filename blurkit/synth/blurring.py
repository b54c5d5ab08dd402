"""One sharp source → one blurred pair, written: item by item (:func:`load_item` then
:func:`blur_loaded`, the CPU path run by the workers) or batched on a device (:func:`blur_batched`,
the CUDA path).

Both read the source once as 8-bit RGB (the sharp target as written), draw the pair's degradation
from its seed, refuse an image smaller than its kernel, blur and write the pair with its row. They
make the same rows, sharp images and kernels.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from blurkit.io import ImageReadError
from blurkit.ops.degrade import Degradation, DegradeConfig, apply_degradation, sample_degradation
from blurkit.synth.job import Item, Result
from blurkit.synth.options import MAX_PIXELS
from blurkit.synth.outputs import PairFormat, write_pair
from blurkit.synth.sources import read_source
from blurkit.synth.workers import safe_call


def load_item(item: Item, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, dict[str, Any], bytes | None]:
    """The first step of a pair: read the item's source (:func:`read_source`)."""
    return read_source(item.source, max_pixels)


def blur_loaded(
    item: Item, loaded: tuple[np.ndarray, dict[str, Any], bytes | None], out: Path, config: DegradeConfig,
    form: PairFormat, device: str,
) -> dict[str, Any]:
    """The rest of a pair on its read source (:func:`load_item`): draw, blur, write; returns the row."""
    sharp8, source_id, sharp_png = loaded
    deg = sample_degradation(item.seed, config)  # what blur_image does, with a size check in between
    check_kernel_fits(item.source, sharp8.shape, deg.kernel.shape[0])
    blurred = degrade_source8(sharp8, deg, device)
    return write_pair(out, item, form, sharp8, blurred, deg.kernel, {**deg.record, **source_id}, sharp_png)


def degrade_source8(sharp8: np.ndarray, deg: Degradation, device: str) -> np.ndarray:
    """The blurred image of an 8-bit source as the pair writes it: 8-bit (H, W, 3).

    Chain 2 on the CPU runs straight from 8-bit levels to 8-bit levels
    (:func:`blurkit.ops.cpu_chain.degrade_image8`, without torch); other chains and devices go
    through :func:`blurkit.ops.apply_degradation` and are rounded as the encoder rounds floats. Both
    give the same bytes for the same record.
    """
    if int(deg.record.get("chain", 1)) == 2 and str(device) == "cpu":
        from blurkit.ops.cpu_chain import degrade_image8

        return degrade_image8(sharp8, deg.kernel, deg.record)
    import torch

    from blurkit.io import to_uint
    from blurkit.tensors import chw_to_hwc, hwc_to_chw

    x = hwc_to_chw(torch.from_numpy(sharp8).to(device))[None].float() / 255.0
    y = apply_degradation(x, torch.from_numpy(deg.kernel)[None].to(device), [deg.record])
    return to_uint(chw_to_hwc(y[0]).cpu().numpy())


def check_kernel_fits(path: Path, shape: tuple[int, ...], k: int) -> None:
    """Refuse an image smaller than its kernel (the blur would be mostly border, not motion)."""
    if min(shape[0], shape[1]) < k:
        raise ValueError(
            f"{path}: image {shape[1]}x{shape[0]} is smaller than its {k}x{k} blur kernel; "
            "use larger images or shorter blur (--length, --kernel-size)"
        )


def blur_batched(
    items: Sequence[Item], out: Path, config: DegradeConfig, form: PairFormat, device: str, batch: int,
    max_pixels: int,
) -> Iterator[Result]:
    """Batched path: decode in threads, blur same-size images together on the device, encode in threads."""

    def read(it: Item) -> Result:
        try:
            img, source_id, sharp_png = read_source(it.source, max_pixels)
            return it, {"image": img, "id": source_id, "png": sharp_png}, None
        except (ImageReadError, FileNotFoundError, ValueError, OSError) as exc:
            return it, None, str(exc)
        except Exception as exc:  # one source must not stop the run
            return it, None, f"{it.source}: {type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for start in range(0, len(items), batch):
            chunk = list(items[start : start + batch])
            groups: dict[tuple[int, ...], list[tuple[Item, np.ndarray]]] = {}
            sources: dict[str, dict[str, Any]] = {}
            for it, got, err in pool.map(read, chunk):
                if got is None:
                    yield it, None, err
                else:
                    groups.setdefault(got["image"].shape, []).append((it, got["image"]))
                    sources[it.key] = got
            for group in groups.values():
                yield from _blur_group(group, sources, out, config, form, device, pool)


def _blur_group(
    group: Sequence[tuple[Item, np.ndarray]], sources: Mapping[str, Mapping[str, Any]], out: Path,
    config: DegradeConfig, form: PairFormat, device: str, pool: Executor,
) -> Iterator[Result]:
    """Blur images of one size together on ``device``; their pairs are written by ``pool``'s threads."""
    import torch

    from blurkit.kernels.psf import stack_kernels
    from blurkit.tensors import chw_to_hwc, hwc_to_chw

    members: list[tuple[Item, np.ndarray]] = []
    degs: list[Degradation] = []
    for it, img in group:
        try:
            d = sample_degradation(it.seed, config)
            check_kernel_fits(it.source, img.shape, d.kernel.shape[0])
        except ValueError as exc:
            yield it, None, str(exc)
            continue
        members.append((it, img))
        degs.append(d)
    if not members:
        return
    try:
        x = hwc_to_chw(torch.from_numpy(np.stack([img for _, img in members])).to(device)).float() / 255.0
        k = torch.from_numpy(stack_kernels([d.kernel for d in degs])).to(device)
        y = chw_to_hwc(apply_degradation(x, k, [d.record for d in degs])).cpu().numpy()
    except ValueError as exc:
        for it, _ in members:
            yield it, None, str(exc)
        return
    futures = [
        pool.submit(
            safe_call,
            functools.partial(
                _write_batched_item, out, form, img, yi, d.kernel, {**d.record, **sources[it.key]["id"]},
                sources[it.key]["png"],
            ),
            it,
        )
        for (it, img), yi, d in zip(members, y, degs, strict=True)
    ]
    for f in futures:
        yield f.result()


def _write_batched_item(
    out: Path, form: PairFormat, img: np.ndarray, yi: np.ndarray, kernel: np.ndarray,
    record: Mapping[str, Any], sharp_png: bytes | None, item: Item,
) -> dict[str, Any]:
    return write_pair(out, item, form, img, yi, kernel, record, sharp_png)


__all__ = ["blur_batched", "blur_loaded", "check_kernel_fits", "degrade_source8", "load_item"]
