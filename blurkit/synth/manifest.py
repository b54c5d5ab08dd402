"""The manifest of a pair folder: one row per pair, enough to regenerate any pair bit for bit.

Layout written by ``blurkit make`` and ``blurkit average``::

    pairs/
      blurkit.json          run settings: version, base seed, preset and full config, variants, format
      manifest.csv          one row per pair (assembled from meta/)
      errors.csv            one row per source that could not be processed (only when there were some)
      blur/<name>.png       blurred image
      sharp/<name>.png      sharp target (the source, 8-bit RGB, EXIF orientation applied)
      kernels/<name>.npy    the pair's kernel, float32 (k, k) (``make`` only)
      meta/<name>.json      the pair's row, written last: a pair is complete when its meta file exists

A sharded run writes ``manifest.shard-I-of-N.csv``, ``plan.shard-I-of-N.json`` and
``errors.shard-I-of-N.csv`` instead of ``manifest.csv``/``errors.csv`` (see :mod:`blurkit.synth.shards`).

A row holds the source, the outputs, the item seed, every drawn value (kernel parameters, kernel seed,
boost, noise levels and noise seed, JPEG quality, border, response) and SHA-256 checksums of the
images and the kernel file. The blurred image of ``make`` is a function of (sharp image, seed,
config), so it can be regenerated from the pair folder alone with :func:`regenerate_blurred`. Rows of
``average`` say ``kernel_source=frames`` and list the averaged frames.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blurkit.io import atomic_write_bytes, read_image

RUN_FILE = "blurkit.json"
MANIFEST_FILE = "manifest.csv"
ERRORS_FILE = "errors.csv"

#: Columns that come first in manifest.csv (drawn values follow, sorted).
LEAD_COLUMNS = [
    "key", "source", "variant", "blur", "sharp", "kernel", "seed", "height", "width", "kernel_size",
    "length", "blur_sha256", "sharp_sha256", "kernel_sha256",
]


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    atomic_write_bytes(path, (json.dumps(payload, indent=1, sort_keys=True) + "\n").encode())


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p}: cannot read JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{p}: expected a JSON object")
    return data


def collect_rows(out: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of every complete pair (from meta/*.json), sorted by key."""
    meta = Path(out) / "meta"
    if not meta.is_dir():
        return []
    rows = [read_json(p) for p in meta.rglob("*.json")]
    return sorted(rows, key=lambda r: str(r["key"]))


def write_manifest(out: str | os.PathLike[str], rows: list[dict[str, Any]], name: str = MANIFEST_FILE) -> Path:
    """Write manifest.csv (or ``name``) atomically (lead columns first, then every drawn value, sorted)."""
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=LEAD_COLUMNS)
    lead = [c for c in LEAD_COLUMNS if c in df.columns]
    rest = sorted(c for c in df.columns if c not in lead)
    path = Path(out) / name
    atomic_write_bytes(path, df[lead + rest].to_csv(index=False).encode())
    return path


def read_manifest(out: str | os.PathLike[str]) -> pd.DataFrame:
    """The manifest of a pair folder as a DataFrame.

    Raises:
        FileNotFoundError: the folder has no manifest.csv.
    """
    path = Path(out) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest (is {Path(out)} a folder written by blurkit make?)")
    return pd.read_csv(path, dtype={"key": str, "source": str, "blur": str, "sharp": str, "kernel": str})


def regenerate_blurred(out: str | os.PathLike[str], key: str, device: str = "cpu") -> np.ndarray:
    """Recompute the blurred image of pair ``key`` from the pair folder (sharp image + seed + config).

    Returns the float32 RGB image before encoding; ``blurkit.io.encode_image`` of it with the run's
    format gives the bytes of ``blur/…`` again (on the same kind of device).
    """
    from blurkit.ops.degrade import DegradeConfig
    from blurkit.synth.pair import blur_image

    root = Path(out)
    run = read_json(root / RUN_FILE)
    df = read_manifest(root)
    match = df[df["key"] == key]
    if match.empty:
        raise ValueError(f"key: no pair {key!r} in {root / MANIFEST_FILE}")
    row = match.iloc[0]
    if str(row.get("kernel_source", "")) == "frames" or "config" not in run:
        raise ValueError(
            f"key: pair {key!r} was averaged from video frames (blurkit average), not blurred from its sharp "
            "image; rerun blurkit average to recompute it"
        )
    config = DegradeConfig.from_dict(run["config"])
    sharp = read_image(root / str(row["sharp"]))
    blurred, _, _ = blur_image(sharp, int(row["seed"]), config, device=device)
    return blurred
