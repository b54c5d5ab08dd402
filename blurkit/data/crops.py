"""Random crops and flips of aligned images, and loading them from disk, drawn from a seed.

The same seed gives the same crop and flips; a blurry and a sharp image share them
(:func:`load_pair_crop`), so a pair stays aligned. Images are cropped in the file's own 8 or 16 bits
and only the crop is made float, and a :class:`DecodedImages` store passed to the loaders keeps
decoded files in memory so that a small set of large frames (real video pairs) is decoded once, not
at every draw; the crops are the same with or without it.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from blurkit.io import decode_image, decoded_to_rgb, rgb_to_float


class DecodedImages:
    """Decoded images kept in memory, up to ``max_mb`` megabytes, least recently used out first.

    :meth:`get` gives the RGB array of :func:`blurkit.io.decoded_to_rgb` (8/16-bit as in the file);
    ``max_mb=0`` keeps nothing (every call decodes). Each process has its own store: a DataLoader
    worker fills the copy it was given.

    >>> store = DecodedImages(1)
    >>> store.max_bytes, len(store)
    (1000000, 0)
    """

    def __init__(self, max_mb: float = 0.0) -> None:
        if not max_mb >= 0:
            raise ValueError(f"max_mb: must be >= 0, got {max_mb}")
        self.max_bytes = int(max_mb * 1e6)
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, path: str | os.PathLike[str]) -> np.ndarray:
        key = os.fspath(path)
        img = self._items.get(key)
        if img is not None:
            self._items.move_to_end(key)
            self.hits += 1
            return img
        self.misses += 1
        img = _decode_rgb(path)
        img.flags.writeable = False  # shared by every later draw: crops copy, nobody writes
        if 0 < img.nbytes <= self.max_bytes:
            self._items[key] = img
            self._bytes += img.nbytes
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes
        return img


def _decode_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    return decoded_to_rgb(decode_image(path), path)


def _read_rgb(path: str | Path, images: DecodedImages | None) -> np.ndarray:
    return images.get(path) if images is not None else _decode_rgb(path)


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
    images: DecodedImages | None = None,
) -> np.ndarray:
    """A random ``size``×``size`` crop (and flips) of one sharp image, drawn from ``seed``.

    ``scale=(lo, hi)`` first draws a zoom factor ``s`` uniformly in ``[lo, hi]`` and crops a
    ``size / s`` square that is resized (bicubic) to ``size``: ``s > 1`` enlarges the photo, so its
    content is smoother per pixel, as in video frames, whose detail per pixel is several times lower
    than a photo collection's. Without ``scale`` the draws are those of earlier versions.

    ``images`` (a :class:`DecodedImages`) serves the decoded file from memory when it holds it.

    Returns:
        (size, size, 3) float32 in [0, 1]; images smaller than ``size`` are padded by reflection.
    """
    rng = np.random.default_rng(seed)
    image = _read_rgb(path, images)
    if scale is None:
        (crop,) = random_crop_flip([image], size, rng, flips)
        return rgb_to_float(crop)
    zoom = float(rng.uniform(scale[0], scale[1]))
    side = max(2, int(round(size / zoom)))
    (crop,) = random_crop_flip([image], side, rng, flips)
    crop = rgb_to_float(crop)
    if side == size:
        return crop
    method = cv2.INTER_CUBIC if side < size else cv2.INTER_AREA
    out = cv2.resize(crop, (size, size), interpolation=method)
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0), dtype=np.float32)


def load_pair_crop(
    blur_path: str | Path,
    sharp_path: str | Path,
    size: int | None,
    seed: int,
    flips: bool = True,
    images: DecodedImages | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The same random crop and flips of a blurry and a sharp image, drawn from ``seed``, as float32
    RGB in [0, 1].

    ``size=None`` keeps the whole images (flips only). ``images`` (a :class:`DecodedImages`) serves
    decoded files from memory when it holds them.

    Raises:
        ValueError: the two images differ in size.
    """
    blur_img, sharp_img = _read_rgb(blur_path, images), _read_rgb(sharp_path, images)
    if blur_img.shape != sharp_img.shape:
        raise ValueError(f"{blur_path}: size {blur_img.shape[:2]} differs from {sharp_path} {sharp_img.shape[:2]}")
    rng = np.random.default_rng(seed)
    if size is None:
        blur, sharp = _flip_only([blur_img, sharp_img], rng) if flips else [blur_img, sharp_img]
    else:
        blur, sharp = random_crop_flip([blur_img, sharp_img], size, rng, flips)
    return rgb_to_float(blur), rgb_to_float(sharp)


__all__ = ["DecodedImages", "load_pair_crop", "load_sharp_crop", "random_crop_flip"]
