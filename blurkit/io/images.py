"""Robust image reading and writing.

``read_image`` returns float32 RGB in [0, 1] (display-referred sRGB values, *not* linear light; the
degradation chain linearises). It accepts 8- and 16-bit files, grayscale, alpha (dropped), CMYK JPEG
and applies the EXIF orientation. Paths may contain spaces and non-ASCII characters.

``write_image`` encodes in memory and writes atomically (:mod:`blurkit.io.atomic`), so a killed
process never leaves a half-written image. PNG files are written at compression level
:data:`PNG_LEVEL` unless told otherwise: the level changes the size of the file and the time to
write it, never the decoded pixels. The PNG mode (:data:`PNG_MODE`) picks how the rows are
compressed: ``"rle"`` (the Paeth filter on every row, then run-length matching) or ``"zlib"``
(libpng's per-row filter choice, then zlib's general matching at the level).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from blurkit.io.atomic import atomic_write_bytes
from blurkit.io.headers import ImageReadError, check_image_header, read_header

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
LOSSLESS_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")


#: Float images may stray this far outside 0..1 (rounding) before they are refused.
FLOAT_TOLERANCE = 1e-3
#: zlib compression level of PNG files (0 = stored, 9 = smallest and slowest): 1, zlib's fastest
#: compressing level, writes a 720p pair 10-29% faster than 3 for 2-11% more disk (``docs/make.md``).
PNG_LEVEL = 1
#: The PNG levels accepted.
PNG_LEVELS = range(10)
#: How PNG rows are compressed. ``"rle"``: the Paeth filter on every row and zlib's run-length
#: strategy (``Z_RLE``), whose matches are only runs: on 720p video frames and their blurred pairs
#: about twice as fast to write as ``"zlib"`` at level 1 and smaller too (``docs/make.md``); the
#: level then matters only at 0 (stored). ``"zlib"``: libpng's adaptive per-row filters and zlib's
#: default strategy, where the level trades size for time (the files of earlier versions).
PNG_MODES = ("rle", "zlib")
PNG_MODE = "rle"


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence what C libraries (libpng, libjpeg, libtiff) print on file descriptor 2 meanwhile.

    A bad file is reported once, as blurkit's own failure line. Only the main thread of a process
    redirects (other threads may be printing); elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread() or not _STDERR_LOCK.acquire(blocking=False):
        yield
        return
    saved = -1
    try:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except OSError:
            saved = -1
        yield
    finally:
        if saved >= 0:
            os.dup2(saved, 2)
            os.close(saved)
        _STDERR_LOCK.release()


def read_file_bytes(path: str | os.PathLike[str]) -> np.ndarray:
    """The bytes of an image file (uint8 array); clear errors for missing, broken-link and empty files.

    Raises:
        FileNotFoundError: the file does not exist (or is a broken or looping symbolic link).
        ImageReadError: the file is empty or not a regular file.
    """
    p = Path(path)
    if not p.is_file():
        if p.is_symlink():
            try:
                p.resolve(strict=True)
            except RuntimeError:
                raise FileNotFoundError(f"{p}: symbolic link loop") from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise FileNotFoundError(f"{p}: symbolic link loop") from None
                raise FileNotFoundError(
                    f"{p}: broken symbolic link (its target {os.readlink(p)!r} does not exist)"
                ) from None
        if p.exists():
            raise ImageReadError(f"{p}: not a regular file")
        raise FileNotFoundError(f"{p}: no such file")
    data = np.fromfile(p, dtype=np.uint8)
    if data.size == 0:
        raise ImageReadError(f"{p}: empty file (0 bytes)")
    return data


def decode_bytes(data: np.ndarray, path: str | os.PathLike[str]) -> np.ndarray:
    """Decode the bytes of an image file as OpenCV gives it (see :func:`decode_image`)."""
    p = Path(path)
    try:
        with quiet_stderr():
            img = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR)
    except cv2.error as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ImageReadError(f"{p}: cannot decode as an image (unsupported pixel type or layout; {detail[:160]})") from None
    if img is None:
        header = read_header(data)
        if header is not None:
            what = f"{header.format.upper()} {header.width}x{header.height}" + (f", {header.detail}" if header.detail else "")
            raise ImageReadError(f"{p}: cannot decode as an image ({what}: corrupt, truncated or an unsupported pixel type)")
        raise ImageReadError(f"{p}: cannot decode as an image (corrupt, truncated or not an image)")
    return img


def decode_image(path: str | os.PathLike[str], max_pixels: int = 0) -> np.ndarray:
    """Decode an image file as OpenCV gives it (BGR/BGRA or gray, 8/16-bit, EXIF orientation applied).

    With ``max_pixels`` > 0 the size is read from the header first and a larger image is refused
    before any pixel is decoded (see :func:`check_image_header`).

    Raises:
        FileNotFoundError: the file does not exist.
        ImageReadError: the file is empty, truncated, corrupt or not an image.
        ValueError: more than ``max_pixels`` pixels.
    """
    data = read_file_bytes(path)
    check_image_header(data, path, max_pixels)
    return decode_bytes(data, path)


def read_image(path: str | os.PathLike[str], max_pixels: int = 0) -> np.ndarray:
    """Read an image as float32 RGB (H, W, 3) in [0, 1].

    Raises:
        FileNotFoundError: the file does not exist.
        ImageReadError: the file is empty, truncated, corrupt or not an image.
        ValueError: more than ``max_pixels`` pixels (when > 0).
    """
    return _to_float_rgb(decode_image(path, max_pixels), Path(path))


def read_image_uint8(path: str | os.PathLike[str], max_pixels: int = 0) -> np.ndarray:
    """Read an image as 8-bit RGB (H, W, 3): the same values as ``to_uint(read_image(path))``,
    without a float round trip for 8-bit files."""
    return decoded_to_uint8(decode_image(path, max_pixels), path)


def decoded_to_uint8(img: np.ndarray, path: str | os.PathLike[str]) -> np.ndarray:
    """8-bit RGB (H, W, 3) from what :func:`decode_bytes` returned."""
    if img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3:
        return swap_red_blue(img)
    return to_uint(_to_float_rgb(img, Path(path)))


def swap_red_blue(img: np.ndarray) -> np.ndarray:
    """RGB ↔ BGR of an (H, W, 3) image as a new contiguous array (OpenCV's vectorised swap for the
    8/16-bit and float32 images it handles, a NumPy copy otherwise).

    >>> swap_red_blue(np.array([[[1, 2, 3]]], np.uint8)).tolist()
    [[[3, 2, 1]]]
    """
    swappable = img.ndim == 3 and img.shape[2] == 3 and img.dtype in (np.uint8, np.uint16, np.float32)
    if swappable and img.size and img.flags.c_contiguous:
        return cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    return np.ascontiguousarray(img[:, :, ::-1])


def decoded_to_rgb(img: np.ndarray, path: str | os.PathLike[str]) -> np.ndarray:
    """RGB (H, W, 3) from what :func:`decode_bytes` returned, kept in the file's integer type
    (8 or 16 bits: a quarter or half of float32's memory); floating-point files become float32
    (their range checked as :func:`read_image` checks it). :func:`rgb_to_float` of it, or of any
    crop of it, equals :func:`read_image` (of the same crop).

    >>> bgr = np.array([[[10, 20, 30]]], np.uint8)
    >>> decoded_to_rgb(bgr, "a.png").tolist(), decoded_to_rgb(bgr[:, :, 0], "a.png").tolist()
    ([[[30, 20, 10]]], [[[10, 10, 10]]])
    """
    rgb = _rgb_view(img, Path(path))
    return np.ascontiguousarray(rgb if rgb.dtype in (np.uint8, np.uint16) else rgb.astype(np.float32))


def rgb_to_float(img: np.ndarray) -> np.ndarray:
    """float32 in [0, 1] of a :func:`decoded_to_rgb` array (8-bit / 255, 16-bit / 65535, float
    clipped); always a new array."""
    if img.dtype == np.uint8:
        out = img.astype(np.float32) / 255.0
    elif img.dtype == np.uint16:
        out = img.astype(np.float32) / 65535.0
    else:
        out = np.clip(img.astype(np.float32), 0.0, 1.0)
    return np.ascontiguousarray(out)


def _rgb_view(img: np.ndarray, p: Path) -> np.ndarray:
    """RGB order of a decoded image (grey repeated, alpha dropped), its pixel type checked."""
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, 2::-1]  # BGR(A) -> RGB, dropping alpha
    if img.dtype in (np.float32, np.float64):
        lo, hi = float(np.min(img)), float(np.max(img))
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < -FLOAT_TOLERANCE or hi > 1.0 + FLOAT_TOLERANCE:
            raise ImageReadError(
                f"{p}: floating-point image with values in [{lo:.4g}, {hi:.4g}], not 0..1 (HDR radiance or "
                "unnormalised data); scale it to 0..1 or convert it to 8/16-bit"
            )
    elif img.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(f"{p}: unsupported pixel type {img.dtype} (use 8/16-bit integers or 0..1 floats)")
    return img


def _to_float_rgb(img: np.ndarray, p: Path) -> np.ndarray:
    return rgb_to_float(_rgb_view(img, p))


def to_uint(img: np.ndarray, bits: int = 8) -> np.ndarray:
    """Quantise float [0, 1] RGB to uint8 or uint16 with rounding (values outside [0, 1] are clipped)."""
    if bits not in (8, 16):
        raise ValueError(f"bits: must be 8 or 16, got {bits}")
    peak = 255.0 if bits == 8 else 65535.0
    q = np.clip(np.rint(np.asarray(img, dtype=np.float64) * peak), 0, peak)
    return q.astype(np.uint8 if bits == 8 else np.uint16)


def check_png_level(level: int) -> int:
    """``level`` if it is a PNG compression level (an integer in 0..9).

    Raises:
        ValueError: anything else.
    """
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or int(level) not in PNG_LEVELS:
        raise ValueError(f"png_level: must be an integer in 0..9, got {level!r}")
    return int(level)


def check_png_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`PNG_MODES`; else a ``ValueError`` naming them."""
    if mode not in PNG_MODES:
        raise ValueError(f"png_mode: expected one of {', '.join(PNG_MODES)}, got {mode!r}")
    return str(mode)


def png_params(level: int = PNG_LEVEL, mode: str = PNG_MODE) -> list[int]:
    """OpenCV ``imencode`` parameters of a PNG at ``level`` in ``mode`` (see :data:`PNG_MODES`).

    OpenCV builds without a PNG filter flag (before 4.10) keep libpng's filter choice in ``rle``
    mode: the same pixels, files a little slower to write."""
    params = [cv2.IMWRITE_PNG_COMPRESSION, check_png_level(level)]
    if check_png_mode(mode) == "rle":
        params += [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
        flag, paeth = getattr(cv2, "IMWRITE_PNG_FILTER", None), getattr(cv2, "IMWRITE_PNG_FILTER_PAETH", None)
        if flag is not None and paeth is not None:
            params += [flag, paeth]
    return params


def encode_image(
    img: np.ndarray, suffix: str, quality: int = 95, bits: int = 8, png_level: int = PNG_LEVEL,
    png_mode: str = PNG_MODE,
) -> bytes:
    """Encode float [0, 1] or integer RGB (H, W, 3) / gray (H, W) to bytes of the format of ``suffix``.

    ``quality`` applies to JPEG and WebP, ``png_level`` (zlib level 0..9) and ``png_mode``
    (:data:`PNG_MODES`) to PNG; none of them changes the decoded pixels of a lossless format, only
    the size of the file and the time to write it.

    >>> a = np.zeros((8, 8, 3), np.uint8)
    >>> len(encode_image(a, ".png", png_level=0)) > len(encode_image(a, ".png", png_level=9, png_mode="zlib"))
    True
    """
    suffix = suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"format: unsupported image suffix {suffix!r} (use one of {', '.join(IMAGE_SUFFIXES)})")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality: must be in 1..100, got {quality}")
    params = png_params(png_level, png_mode)
    arr = np.asarray(img)
    if arr.dtype.kind == "f":
        if bits == 16 and suffix not in (".png", ".tif", ".tiff"):
            raise ValueError(f"bits: 16-bit output needs PNG or TIFF, not {suffix}")
        arr = to_uint(arr, bits)
    if arr.ndim == 3:
        arr = swap_red_blue(arr)  # RGB -> BGR for OpenCV
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    elif suffix != ".png":
        params = []
    ok, buf = cv2.imencode(suffix, np.ascontiguousarray(arr), params)
    if not ok:
        raise ValueError(f"cannot encode image as {suffix}")
    return buf.tobytes()


def write_image(
    path: str | os.PathLike[str], img: np.ndarray, quality: int = 95, bits: int = 8, png_level: int = PNG_LEVEL,
    png_mode: str = PNG_MODE,
) -> None:
    """Encode ``img`` (float RGB in [0, 1] or integer) by the suffix of ``path`` and write it atomically."""
    p = Path(path)
    atomic_write_bytes(p, encode_image(img, p.suffix, quality=quality, bits=bits, png_level=png_level, png_mode=png_mode))

