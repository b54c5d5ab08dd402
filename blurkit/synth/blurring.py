"""One sharp source → one blurred pair, written: item by item (:func:`blur_item`, the CPU path run by
the workers) or batched on a device (:func:`blur_batched`, the CUDA path).

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
import torch

from blurkit.io import ImageReadError
from blurkit.ops.degrade import Degradation, DegradeConfig, apply_degradation, sample_degradation
from blurkit.synth.job import Item, Result
from blurkit.synth.options import MAX_PIXELS
from blurkit.synth.outputs import PairFormat, write_pair
from blurkit.synth.sources import read_source
from blurkit.synth.workers import safe_call
from blurkit.tensors import chw_to_hwc, hwc_to_chw


def blur_item(
    item: Item, out: Path, config: DegradeConfig, form: PairFormat, device: str, max_pixels: int = MAX_PIXELS
) -> dict[str, Any]:
    """Make and write the pair of ``item``; returns its manifest row."""
    sharp8, source_id = read_source(item.source, max_pixels)
    deg = sample_degradation(item.seed, config)  # what blur_image does, with a size check in between
    check_kernel_fits(item.source, sharp8.shape, deg.kernel.shape[0])
    x = hwc_to_chw(torch.from_numpy(sharp8).to(device))[None].float() / 255.0
    y = apply_degradation(x, torch.from_numpy(deg.kernel)[None].to(device), [deg.record])
    blurred = chw_to_hwc(y[0]).cpu().numpy()
    return write_pair(out, item, form, sharp8, blurred, deg.kernel, {**deg.record, **source_id})


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
            img, source_id = read_source(it.source, max_pixels)
            return it, {"image": img, "id": source_id}, None
        except (ImageReadError, FileNotFoundError, ValueError, OSError) as exc:
            return it, None, str(exc)
        except Exception as exc:  # one source must not stop the run
            return it, None, f"{it.source}: {type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for start in range(0, len(items), batch):
            chunk = list(items[start : start + batch])
            groups: dict[tuple[int, ...], list[tuple[Item, np.ndarray]]] = {}
            ids: dict[str, dict[str, Any]] = {}
            for it, got, err in pool.map(read, chunk):
                if got is None:
                    yield it, None, err
                else:
                    groups.setdefault(got["image"].shape, []).append((it, got["image"]))
                    ids[it.key] = got["id"]
            for group in groups.values():
                yield from _blur_group(group, ids, out, config, form, device, pool)


def _blur_group(
    group: Sequence[tuple[Item, np.ndarray]], ids: Mapping[str, Mapping[str, Any]], out: Path,
    config: DegradeConfig, form: PairFormat, device: str, pool: Executor,
) -> Iterator[Result]:
    """Blur images of one size together on ``device``; their pairs are written by ``pool``'s threads."""
    from blurkit.kernels.psf import stack_kernels

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
            functools.partial(_write_batched_item, out, form, img, yi, d.kernel, {**d.record, **ids[it.key]}),
            it,
        )
        for (it, img), yi, d in zip(members, y, degs, strict=True)
    ]
    for f in futures:
        yield f.result()


def _write_batched_item(
    out: Path, form: PairFormat, img: np.ndarray, yi: np.ndarray, kernel: np.ndarray,
    record: Mapping[str, Any], item: Item,
) -> dict[str, Any]:
    return write_pair(out, item, form, img, yi, kernel, record)


__all__ = ["blur_batched", "blur_item", "check_kernel_fits"]
