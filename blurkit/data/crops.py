"""Random crops and flips of aligned images, and loading them from disk, drawn from a seed.

The same seed gives the same crop and flips; a blurry and a sharp image share them
(:func:`load_pair_crop`), so a pair stays aligned.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from blurkit.io import read_image


def _pad_to_at_least(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    ph, pw = max(0, size - h), max(0, size - w)
    if ph == 0 and pw == 0:
        return img
    widths = ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0))
    if ph < h and pw < w:
        return np.pad(img, widths, mode="reflect")
    return np.pad(img, widths, mode="edge")


def random_crop_flip(
    images: Sequence[np.ndarray], size: int, rng: np.random.Generator, flips: bool = True
) -> list[np.ndarray]:
    """The same random ``size``×``size`` crop and flips of aligned (H, W, 3) images (padded if small).

    >>> rng = np.random.default_rng(0)
    >>> a = np.arange(5 * 6 * 3, dtype=np.float32).reshape(5, 6, 3)
    >>> x, y = random_crop_flip([a, a.copy()], 4, rng)
    >>> x.shape, bool((x == y).all())
    ((4, 4, 3), True)
    """
    if len({im.shape for im in images}) != 1:
        raise ValueError(f"images: aligned images must have one shape, got {[im.shape for im in images]}")
    padded = [_pad_to_at_least(im, size) for im in images]
    h, w = padded[0].shape[:2]
    top = int(rng.integers(0, h - size + 1))
    left = int(rng.integers(0, w - size + 1))
    out = [im[top : top + size, left : left + size] for im in padded]
    if flips:
        if rng.random() < 0.5:
            out = [im[:, ::-1] for im in out]
        if rng.random() < 0.5:
            out = [im[::-1] for im in out]
    return [np.ascontiguousarray(im) for im in out]


def _flip_only(images: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    out = list(images)
    if rng.random() < 0.5:
        out = [im[:, ::-1] for im in out]
    if rng.random() < 0.5:
        out = [im[::-1] for im in out]
    return [np.ascontiguousarray(im) for im in out]


def load_sharp_crop(
    path: str | Path,
    size: int,
    seed: int,
    flips: bool = True,
    scale: tuple[float, float] | None = None,
) -> np.ndarray:
    """A random ``size``×``size`` crop (and flips) of one sharp image, drawn from ``seed``.

    ``scale=(lo, hi)`` first draws a zoom factor ``s`` uniformly in ``[lo, hi]`` and crops a
    ``size / s`` square that is resized (bicubic) to ``size``: ``s > 1`` enlarges the photo, so its
    content is smoother per pixel, as in video frames, whose detail per pixel is several times lower
    than a photo collection's. Without ``scale`` the draws are those of earlier versions.

    Returns:
        (size, size, 3) float32 in [0, 1]; images smaller than ``size`` are padded by reflection.
    """
    rng = np.random.default_rng(seed)
    image = read_image(path)
    if scale is None:
        (crop,) = random_crop_flip([image], size, rng, flips)
        return crop
    zoom = float(rng.uniform(scale[0], scale[1]))
    side = max(2, int(round(size / zoom)))
    (crop,) = random_crop_flip([image], side, rng, flips)
    if side == size:
        return crop
    method = cv2.INTER_CUBIC if side < size else cv2.INTER_AREA
    out = cv2.resize(crop, (size, size), interpolation=method)
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0), dtype=np.float32)


def load_pair_crop(
    blur_path: str | Path, sharp_path: str | Path, size: int | None, seed: int, flips: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The same random crop and flips of a blurry and a sharp image, drawn from ``seed``.

    ``size=None`` keeps the whole images (flips only).

    Raises:
        ValueError: the two images differ in size.
    """
    blur_img, sharp_img = read_image(blur_path), read_image(sharp_path)
    if blur_img.shape != sharp_img.shape:
        raise ValueError(f"{blur_path}: size {blur_img.shape[:2]} differs from {sharp_path} {sharp_img.shape[:2]}")
    rng = np.random.default_rng(seed)
    if size is None:
        blur, sharp = _flip_only([blur_img, sharp_img], rng) if flips else [blur_img, sharp_img]
    else:
        blur, sharp = random_crop_flip([blur_img, sharp_img], size, rng, flips)
    return blur, sharp


__all__ = ["load_pair_crop", "load_sharp_crop", "random_crop_flip"]
