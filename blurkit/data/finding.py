"""Finding the blurry and sharp files of a pair folder.

A pair folder is what ``blurkit make`` writes (``manifest.csv``), any ``blur/`` + ``sharp/`` layout
with matching relative paths, or GoPro's ``<root>/<scene>/{blur,sharp}`` (``kind="gopro"``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from blurkit.io import list_images

PAIR_LAYOUTS = ("pairs", "gopro")


def _pairs_from_manifest(root: Path, manifest: Path) -> tuple[list[Path], list[Path]]:
    with manifest.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        cols = set(reader.fieldnames or [])
        if not {"blur", "sharp"} <= cols:
            raise ValueError(f"{manifest}: needs columns 'blur' and 'sharp', has {sorted(cols)}")
        rows = list(reader)
    blur = [root / r["blur"] for r in rows]
    sharp = [root / r["sharp"] for r in rows]
    for p in (*blur, *sharp):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: listed in {manifest} but missing")
    return blur, sharp


def _pairs_from_folders(blur_dir: Path, sharp_dir: Path) -> tuple[list[Path], list[Path]]:
    sharp = list_images(sharp_dir)
    blur: list[Path] = []
    for s in sharp:
        b = blur_dir / s.relative_to(sharp_dir)
        if not b.is_file():
            raise FileNotFoundError(f"{b}: blurry image for {s} missing")
        blur.append(b)
    return blur, sharp


def find_pairs(root: str | Path, kind: str = "pairs") -> tuple[list[Path], list[Path]]:
    """Blurry and sharp paths of a pair folder.

    Args:
        root: the folder.
        kind: ``pairs`` (``manifest.csv``, else ``blur/`` + ``sharp/``) or ``gopro``
            (``<root>/<scene>/{blur,sharp}`` or ``<root>/{blur,sharp}``).

    Raises:
        FileNotFoundError: the folder, a listed file or a counterpart image is missing.
        ValueError: no pairs found, or a manifest without ``blur``/``sharp`` columns.
    """
    r = Path(root)
    if not r.is_dir():
        raise FileNotFoundError(f"{r}: no such folder")
    if kind == "pairs" and (r / "manifest.csv").is_file():
        blur, sharp = _pairs_from_manifest(r, r / "manifest.csv")
    elif (r / "blur").is_dir() and (r / "sharp").is_dir():
        blur, sharp = _pairs_from_folders(r / "blur", r / "sharp")
    elif kind == "gopro":
        blur, sharp = [], []
        for scene in sorted(p for p in r.iterdir() if (p / "blur").is_dir() and (p / "sharp").is_dir()):
            b, s = _pairs_from_folders(scene / "blur", scene / "sharp")
            blur += b
            sharp += s
    else:
        raise ValueError(f"{r}: no manifest.csv and no blur/ + sharp/ subfolders")
    if not sharp:
        raise ValueError(f"{r}: no image pairs found")
    return blur, sharp


__all__ = ["PAIR_LAYOUTS", "find_pairs"]
