"""Helpers of the hostile-input suite: every file is generated on the fly, nothing binary is committed."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest


def photo(path: Path, h: int = 40, w: int = 48, seed: int = 0, dtype: type = np.uint8) -> Path:
    """Write a small structured RGB image (format by suffix) and return its path."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur((rng.random((h, w, 3)) * 255).astype(np.uint8), (5, 5), 1.0)
    if dtype == np.uint16:
        img = img.astype(np.uint16) * 257
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(path.suffix, img)
    assert ok
    buf.tofile(path)
    return path


def tree_hash(root: Path) -> dict[str, str]:
    """SHA-256 of every file below ``root`` (symbolic links by their target text)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def files_outside(base: Path, allowed: list[Path]) -> list[str]:
    """Files below ``base`` that lie in none of the ``allowed`` folders."""
    res = []
    for p in base.rglob("*"):
        if p.is_file() and not any(a == p or a in p.parents for a in allowed):
            res.append(p.relative_to(base).as_posix())
    return sorted(res)


def png_header_only(w: int, h: int) -> bytes:
    """A PNG signature and IHDR claiming ``w`` x ``h`` (no pixel data)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    import zlib

    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def jpeg_header_only(w: int, h: int) -> bytes:
    """SOI and a baseline SOF0 segment claiming ``w`` x ``h``."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, h, w, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + sof + b"\xff\xd9"


def tiff_header_only(w: int, h: int) -> bytes:
    """A little-endian TIFF with one IFD claiming ``w`` x ``h`` (no strips)."""
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd


def exr_header_only(w: int, h: int) -> bytes:
    """An OpenEXR magic and a dataWindow attribute claiming ``w`` x ``h``."""
    box = struct.pack("<iiii", 0, 0, w - 1, h - 1)
    attr = b"dataWindow\x00box2i\x00" + struct.pack("<i", 16) + box
    return b"\x76\x2f\x31\x01\x02\x00\x00\x00" + attr + b"\x00"


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A source folder with three ordinary photos."""
    root = tmp_path / "photos"
    for i in range(3):
        photo(root / f"p{i}.png", seed=i)
    return root
