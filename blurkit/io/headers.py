"""Image sizes from file headers, and the limits checked before any pixel is decoded.

OpenCV picks its decoder from a file's leading bytes (not its suffix), so :func:`read_header` tells
the format the same way and reads the size as that decoder will see it; :func:`check_image_header`
refuses files too large for ``max_pixels`` and multi-page files before decoding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np


class ImageReadError(ValueError):
    """An image file exists but cannot be decoded (corrupt, truncated, not an image, empty)."""


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


#: Chunks a PNG may hold and still be written unchanged as a pair's sharp image: the image data, its
#: time stamp and pixel density. Colour management (gAMA, cHRM, iCCP, sRGB, sBIT), transparency
#: (tRNS), orientation (eXIf), text and anything unknown make blurkit encode its own file instead.
_PLAIN_PNG_CHUNKS = frozenset({b"IHDR", b"IDAT", b"IEND", b"tIME", b"pHYs"})


def is_plain_rgb8_png(data: bytes | np.ndarray) -> bool:
    """Whether ``data`` is a PNG of 8-bit RGB pixels and nothing else a reader could act on, so that
    its bytes decode, in any reader, to exactly the (H, W, 3) levels OpenCV decodes.

    Walks the chunk headers (no pixel is decoded); a truncated or malformed file is ``False``.

    >>> import cv2
    >>> ok, buf = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
    >>> is_plain_rgb8_png(buf.tobytes()), is_plain_rgb8_png(cv2.imencode(".png", np.zeros((4, 4), np.uint8))[1])
    (True, False)
    """
    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    if raw[:8] != b"\x89PNG\r\n\x1a\n" or raw[12:16] != b"IHDR" or len(raw) < 33:
        return False
    if raw[24] != 8 or raw[25] != 2:  # bit depth 8, colour type 2 (RGB)
        return False
    pos, seen_end = 8, False
    while pos + 8 <= len(raw):
        length = int.from_bytes(raw[pos : pos + 4], "big")
        kind = raw[pos + 4 : pos + 8]
        if kind not in _PLAIN_PNG_CHUNKS:
            return False
        pos += 12 + length
        if kind == b"IEND":
            seen_end = True
            break
    return seen_end and pos == len(raw)


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
