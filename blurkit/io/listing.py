"""Finding image files."""

from __future__ import annotations

import os
from pathlib import Path

from blurkit.io.images import IMAGE_SUFFIXES


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """All image files under ``folder`` (recursive), sorted by relative path."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    return sorted(
        (p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
        key=lambda q: q.relative_to(root).as_posix(),
    )

