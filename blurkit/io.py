"""Robust image reading and atomic writing.

``read_image`` returns float32 RGB in [0, 1] (display-referred sRGB values, *not* linear light; the
degradation chain linearises). It accepts 8- and 16-bit files, grayscale, alpha (dropped), CMYK JPEG
and applies the EXIF orientation. Paths may contain spaces and non-ASCII characters.

``write_image`` encodes in memory and writes through a temporary file in the destination folder
followed by ``os.replace``, so a killed process never leaves a half-written image.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
LOSSLESS_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")


class ImageReadError(ValueError):
    """An image file exists but cannot be decoded (corrupt, truncated, not an image, empty)."""


def decode_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file as OpenCV gives it (BGR/BGRA or gray, 8/16-bit, EXIF orientation applied).

    Raises:
        FileNotFoundError: the file does not exist.
        ImageReadError: the file is empty, truncated, corrupt or not an image.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    data = np.fromfile(p, dtype=np.uint8)
    if data.size == 0:
        raise ImageReadError(f"{p}: empty file (0 bytes)")
    img = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR)
    if img is None:
        raise ImageReadError(f"{p}: cannot decode as an image (corrupt, truncated or not an image)")
    return img


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image as float32 RGB (H, W, 3) in [0, 1].

    Raises:
        FileNotFoundError: the file does not exist.
        ImageReadError: the file is empty, truncated, corrupt or not an image.
    """
    return _to_float_rgb(decode_image(path), Path(path))


def read_image_uint8(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image as 8-bit RGB (H, W, 3): the same values as ``to_uint(read_image(path))``,
    without a float round trip for 8-bit files."""
    img = decode_image(path)
    if img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3:
        return np.ascontiguousarray(img[:, :, ::-1])
    return to_uint(_to_float_rgb(img, Path(path)))


def _to_float_rgb(img: np.ndarray, p: Path) -> np.ndarray:
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, 2::-1]  # BGR(A) -> RGB, dropping alpha
    if img.dtype == np.uint8:
        out = img.astype(np.float32) / 255.0
    elif img.dtype == np.uint16:
        out = img.astype(np.float32) / 65535.0
    elif img.dtype in (np.float32, np.float64):
        out = np.clip(img.astype(np.float32), 0.0, 1.0)
    else:
        raise ImageReadError(f"{p}: unsupported pixel type {img.dtype}")
    return np.ascontiguousarray(out)


def to_uint(img: np.ndarray, bits: int = 8) -> np.ndarray:
    """Quantise float [0, 1] RGB to uint8 or uint16 with rounding (values outside [0, 1] are clipped)."""
    if bits not in (8, 16):
        raise ValueError(f"bits: must be 8 or 16, got {bits}")
    peak = 255.0 if bits == 8 else 65535.0
    q = np.clip(np.rint(np.asarray(img, dtype=np.float64) * peak), 0, peak)
    return q.astype(np.uint8 if bits == 8 else np.uint16)


def encode_image(img: np.ndarray, suffix: str, quality: int = 95, bits: int = 8) -> bytes:
    """Encode float [0, 1] or integer RGB (H, W, 3) / gray (H, W) to bytes of the format of ``suffix``."""
    suffix = suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"format: unsupported image suffix {suffix!r} (use one of {', '.join(IMAGE_SUFFIXES)})")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality: must be in 1..100, got {quality}")
    arr = np.asarray(img)
    if arr.dtype.kind == "f":
        if bits == 16 and suffix not in (".png", ".tif", ".tiff"):
            raise ValueError(f"bits: 16-bit output needs PNG or TIFF, not {suffix}")
        arr = to_uint(arr, bits)
    if arr.ndim == 3:
        arr = arr[:, :, ::-1]  # RGB -> BGR for OpenCV
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    elif suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode(suffix, np.ascontiguousarray(arr), params)
    if not ok:
        raise ValueError(f"cannot encode image as {suffix}")
    return buf.tobytes()


def _process_umask() -> int:
    """The file-creation mask, read without changing it where the OS allows (other threads may be
    creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Read once at import, before any worker thread writes.
_UMASK = _process_umask()


def temp_file_for(path: str | os.PathLike[str]) -> tuple[int, str]:
    """``(fd, name)`` of a new temporary file beside ``path`` (for a write-then-rename), with the
    permissions a plain ``open(path, "w")`` would give (``0o666`` less the umask), not ``mkstemp``'s
    private ``0o600``, so that renamed outputs are readable as any other file the user writes."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o666 & ~_UMASK)
    return fd, tmp


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write bytes to ``path`` atomically (temporary file in the same folder, fsync, rename)."""
    p = Path(path)
    fd, tmp = temp_file_for(p)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_image(
    path: str | os.PathLike[str], img: np.ndarray, quality: int = 95, bits: int = 8
) -> None:
    """Encode ``img`` (float RGB in [0, 1] or integer) by the suffix of ``path`` and write it atomically."""
    p = Path(path)
    atomic_write_bytes(p, encode_image(img, p.suffix, quality=quality, bits=bits))


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """All image files under ``folder`` (recursive), sorted by relative path."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    return sorted(
        (p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
        key=lambda q: q.relative_to(root).as_posix(),
    )
