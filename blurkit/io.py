"""Robust image reading and atomic writing.

``read_image`` returns float32 RGB in [0, 1] (display-referred sRGB values, *not* linear light; the
degradation chain linearises). It accepts 8- and 16-bit files, grayscale, alpha (dropped), CMYK JPEG
and applies the EXIF orientation. Paths may contain spaces and non-ASCII characters.

``write_image`` encodes in memory and writes through a temporary file in the destination folder
followed by ``os.replace``, so a killed process never leaves a half-written image.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
LOSSLESS_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")


#: Float images may stray this far outside 0..1 (rounding) before they are refused.
FLOAT_TOLERANCE = 1e-3
#: Longest file name (bytes) most file systems accept.
NAME_MAX = 255


class ImageReadError(ValueError):
    """An image file exists but cannot be decoded (corrupt, truncated, not an image, empty)."""


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


@dataclass(frozen=True)
class ImageHeader:
    """What a file header says: the format OpenCV will decode it as, its size and page count."""

    format: str
    width: int
    height: int
    pages: int = 1
    detail: str = ""


def _int_tokens(text: bytes, count: int) -> list[int] | None:
    """The first ``count`` whitespace-separated integers of a text header (``#`` comments skipped)."""
    values: list[int] = []
    for line in text.split(b"\n"):
        line = line.split(b"#", 1)[0]
        for tok in line.split():
            try:
                values.append(int(tok))
            except ValueError:
                return None
            if len(values) == count:
                return values
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                return None
            h = int.from_bytes(data[i + 5 : i + 7], "big")
            w = int.from_bytes(data[i + 7 : i + 9], "big")
            return w, h
        if length < 2:
            return None
        i += 2 + length
    return None


def _hdr_size(data: bytes) -> tuple[int, int] | None:
    lines = data[:65536].split(b"\n")
    for j, line in enumerate(lines):
        if line.strip() == b"" and j + 1 < len(lines):
            parts = lines[j + 1].split()
            if len(parts) == 4 and parts[0] in (b"-Y", b"+Y", b"-X", b"+X"):
                try:
                    a, b = int(parts[1]), int(parts[3])
                except ValueError:
                    return None
                return (b, a) if parts[0].endswith(b"Y") else (a, b)
            return None
    return None


def _exr_size(data: bytes) -> tuple[int, int] | None:
    i = 8
    n = min(len(data), 1 << 20)
    while i < n:
        end = data.find(b"\0", i, n)
        if end < 0 or end == i:
            return None
        name = data[i:end]
        tend = data.find(b"\0", end + 1, n)
        if tend < 0 or tend + 5 > n:
            return None
        size = int.from_bytes(data[tend + 1 : tend + 5], "little", signed=True)
        start = tend + 5
        if size < 0:
            return None
        if name == b"dataWindow" and size == 16 and start + 16 <= n:
            x0, y0, x1, y1 = (int.from_bytes(data[start + 4 * k : start + 4 * k + 4], "little", signed=True) for k in range(4))
            return x1 - x0 + 1, y1 - y0 + 1
        i = start + size
    return None


_TIFF_TYPES = {1: 1, 3: 2, 4: 4, 16: 8}  # BYTE, SHORT, LONG, LONG8: bytes per value
_SAMPLE_FORMATS = {1: "unsigned integer", 2: "signed integer", 3: "floating-point", 4: "undefined"}


def _tiff_header(data: bytes) -> ImageHeader | None:
    """Width, height, page count and sample type of a TIFF (classic or BigTIFF) from its IFDs."""
    order: Literal["little", "big"] = "little" if data[:2] == b"II" else "big"
    big = int.from_bytes(data[2:4], order) == 43
    n = len(data)

    def u(off: int, size: int) -> int:
        if off < 0 or off + size > n:
            raise IndexError
        return int.from_bytes(data[off : off + size], order)

    first: dict[int, int] = {}
    pages = 0
    seen: set[int] = set()
    try:
        offset = u(8, 8) if big else u(4, 4)
        while offset and offset not in seen and pages < 100_000:
            seen.add(offset)
            count = u(offset, 8) if big else u(offset, 2)
            entry0 = offset + (8 if big else 2)
            size = 20 if big else 12
            if pages == 0:
                for k in range(min(count, 4096)):
                    e = entry0 + k * size
                    tag, typ = u(e, 2), u(e + 2, 2)
                    if tag in (256, 257, 258, 339) and typ in _TIFF_TYPES:
                        field = e + (12 if big else 8)
                        width = _TIFF_TYPES[typ]
                        if u(e + 4, 8 if big else 4) * width > (8 if big else 4):  # values stored elsewhere
                            field = u(field, 8 if big else 4)
                        first.setdefault(tag, u(field, width))
            pages += 1
            offset = u(entry0 + count * size, 8 if big else 4)
    except IndexError:
        if not first:
            return None
    if 256 not in first or 257 not in first:
        return None
    bits, fmt = first.get(258, 1), first.get(339, 1)
    detail = f"{bits}-bit {_SAMPLE_FORMATS.get(fmt, 'unknown')} samples"
    return ImageHeader("tiff", first[256], first[257], max(pages, 1), detail)


def _pillow_header(data: bytes, fmt: str, pillow_formats: tuple[str, ...]) -> ImageHeader | None:
    import io as _io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(_io.BytesIO(data)) as im:
                if im.format not in pillow_formats:
                    return None
                w, h = im.size
                pages = int(getattr(im, "n_frames", 1) or 1)
    except Image.DecompressionBombError:
        return ImageHeader(fmt, -1, -1)
    except Exception:
        return None
    return ImageHeader(fmt, int(w), int(h), pages)


def read_header(data: bytes | np.ndarray) -> ImageHeader | None:
    """The size of an image from its header, read by the format OpenCV will decode it as.

    OpenCV picks its decoder from the file's leading bytes (not its suffix), so the format is told
    the same way here. Returns ``None`` when the format is unknown or the header is unreadable.

    >>> import cv2, numpy as np
    >>> read_header(cv2.imencode(".png", np.zeros((3, 5), np.uint8))[1])
    ImageHeader(format='png', width=5, height=3, pages=1, detail='')
    """
    b = bytes(data[: 8 << 20])
    wh: tuple[int, int] | None = None
    if b.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(b) >= 24 and b[12:16] == b"IHDR":
            wh = int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
        return ImageHeader("png", *wh) if wh else None
    if b.startswith(b"\xff\xd8"):
        wh = _jpeg_size(b)
        return ImageHeader("jpeg", *wh) if wh else None
    if b[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        return _tiff_header(bytes(data))  # the IFDs may sit anywhere in the file
    if b.startswith(b"RIFF") and b[8:12] == b"WEBP":
        return _pillow_header(b, "webp", ("WEBP",))
    if b.startswith(b"BM"):
        return _pillow_header(b, "bmp", ("BMP", "DIB"))
    if b.startswith((b"GIF87a", b"GIF89a")):
        return _pillow_header(b, "gif", ("GIF",))
    if b.startswith((b"\0\0\0\x0cjP  ", b"\xffO\xffQ")):
        return _pillow_header(b, "jpeg2000", ("JPEG2000",))
    if b[:1] == b"P" and b[1:2] in (b"1", b"2", b"3", b"4", b"5", b"6") and b[2:3].isspace():
        v = _int_tokens(b[2:4096], 2)
        return ImageHeader("pnm", v[0], v[1]) if v else None
    if b[:2] == b"P7" and b[2:3].isspace():
        fields = dict(
            (ln.split()[0], ln.split()[1]) for ln in b[3:4096].split(b"\n") if len(ln.split()) >= 2
        )
        try:
            return ImageHeader("pam", int(fields[b"WIDTH"]), int(fields[b"HEIGHT"]))
        except (KeyError, ValueError):
            return None
    if b[:2] in (b"PF", b"Pf") and b[2:3].isspace():
        v = _int_tokens(b[2:4096], 2)
        return ImageHeader("pfm", v[0], v[1]) if v else None
    if b.startswith((b"#?RADIANCE", b"#?RGBE")):
        wh = _hdr_size(b)
        return ImageHeader("hdr", *wh) if wh else None
    if b.startswith(b"\x76\x2f\x31\x01"):
        wh = _exr_size(b)
        return ImageHeader("exr", *wh) if wh else None
    if b.startswith(b"\x59\xa6\x6a\x95") and len(b) >= 12:
        return ImageHeader("sunraster", int.from_bytes(b[4:8], "big"), int.from_bytes(b[8:12], "big"))
    return None


def check_image_header(data: bytes | np.ndarray, path: str | os.PathLike[str], max_pixels: int) -> ImageHeader | None:
    """Refuse, before decoding, an image with more than ``max_pixels`` pixels (``0``: no limit) or
    several pages; an image whose size cannot be read from its header is refused when a limit is set.

    Raises:
        ImageReadError: unknown format (size unknown), a multi-page file or an unreadable header.
        ValueError: too many pixels.
    """
    p = Path(path)
    header = read_header(data)
    if header is not None and header.pages > 1:
        raise ImageReadError(
            f"{p}: {header.format.upper()} file with {header.pages} pages; blurkit reads single images: "
            "split the pages into separate files"
        )
    if not max_pixels:
        return header
    if header is None:
        raise ImageReadError(
            f"{p}: cannot decode as an image (unknown format or unreadable header, so its size cannot be "
            "checked before decoding; --max-pixels 0 decodes it anyway)"
        )
    w, h = header.width, header.height
    if w < 0 or w * h > max_pixels:
        size = "more than 178 million" if w < 0 else f"{w}x{h} = {w * h}"
        raise ValueError(
            f"{p}: image too large ({size} pixels > max_pixels {max_pixels}); "
            "downscale it or raise --max-pixels (0 = no limit)"
        )
    return header


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
        lo, hi = float(np.min(img)), float(np.max(img))
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < -FLOAT_TOLERANCE or hi > 1.0 + FLOAT_TOLERANCE:
            raise ImageReadError(
                f"{p}: floating-point image with values in [{lo:.4g}, {hi:.4g}], not 0..1 (HDR radiance or "
                "unnormalised data); scale it to 0..1 or convert it to 8/16-bit"
            )
        out = np.clip(img.astype(np.float32), 0.0, 1.0)
    else:
        raise ImageReadError(f"{p}: unsupported pixel type {img.dtype} (use 8/16-bit integers or 0..1 floats)")
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
    fd, tmp = tempfile.mkstemp(prefix=f".{temp_stem(p.name)}.", suffix=".tmp", dir=p.parent)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o666 & ~_UMASK)
    return fd, tmp


def temp_stem(name: str) -> str:
    """The part of a temporary file's name (``.<stem>.<random>.tmp``) that names its target.

    The target's own name, unless that would make the temporary name too long for the file system:
    then a shortened name with a hash of the full one (deterministic).

    >>> temp_stem("a.png"), len(temp_stem("x" * 250 + ".png").encode()) <= 122
    ('a.png', True)
    """
    if len(os.fsencode(name)) <= NAME_MAX - 40:
        return name
    return shorten_name(name, 120) + ".~"


def shorten_name(name: str, max_bytes: int) -> str:
    """``name`` cut to at most ``max_bytes`` bytes (UTF-8), ending in ``~`` and 16 hex digits of its
    SHA-256 when cut: deterministic, and distinct names stay distinct.

    >>> shorten_name("short", 20)
    'short'
    >>> cut = shorten_name("é" * 30, 40)
    >>> len(cut.encode()) <= 40, cut.startswith("éé"), cut == shorten_name("é" * 30, 40)
    (True, True, True)
    """
    raw = os.fsencode(name)
    if len(raw) <= max_bytes:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:16]
    head = raw[: max(0, max_bytes - 17)].decode("utf-8", errors="ignore")
    while len(os.fsencode(head)) > max_bytes - 17:
        head = head[:-1]
    return f"{head}~{digest}"


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
