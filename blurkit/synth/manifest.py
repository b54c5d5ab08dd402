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
images and the kernel file. Rows of ``make`` also hold ``source_size`` and ``source_sha256`` (the
source file as read), so ``resume`` redoes a pair whose source changed; rows written before these
columns existed stay valid. The blurred image of ``make`` is a function of (sharp image, seed,
config), so it can be regenerated from the pair folder alone with :func:`regenerate_blurred`. Rows of
``average`` say ``kernel_source=frames`` and list the averaged frames.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from blurkit.io import atomic_write_bytes, read_image

if TYPE_CHECKING:  # pandas is imported where a table is read or written (a second of a cold start)
    import pandas as pd

RUN_FILE = "blurkit.json"
MANIFEST_FILE = "manifest.csv"
ERRORS_FILE = "errors.csv"

#: The PNG level of folders written before the level was recorded: ``blurkit.json`` records
#: ``png_level`` only when a PNG run uses another, so those folders resume as before.
LEGACY_PNG_LEVEL = 3
#: The PNG mode of folders written before the mode was recorded (``png_mode`` is recorded when not this).
LEGACY_PNG_MODE = "zlib"
#: Settings that earlier versions did not record, and the value they had then (``None``: unknown).
UNRECORDED: dict[str, Any] = {
    "sources": None, "layout": "default", "png_level": LEGACY_PNG_LEVEL, "png_mode": LEGACY_PNG_MODE,
}

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


def settings_differ(previous: Mapping[str, Any], settings: Mapping[str, Any]) -> list[str]:
    """Fields of ``settings`` that differ from an earlier run's (the version is not compared; a field
    that older versions did not record, such as ``sources``, is compared with its value then when
    that is known (:data:`UNRECORDED`), and not at all when it is not).

    >>> settings_differ({"seed": 1}, {"seed": 1, "layout": "default", "png_level": 1})
    ['png_level']
    """
    changed = []
    for k, v in settings.items():
        if k == "blurkit_version":
            continue
        if k in UNRECORDED and k not in previous:
            if UNRECORDED[k] is None or v == UNRECORDED[k]:
                continue
        if previous.get(k) != v:
            changed.append(k)
    changed += [k for k, d in UNRECORDED.items() if k in previous and k not in settings and previous[k] != d]
    return sorted(changed)


#: Settings a user can set back to a folder's own to resume it: the flag that sets each.
_RESUME_FLAGS = {"png_level": "--png-level {}", "png_mode": "--png-mode {}", "config.chain": "--set chain={}"}


def explain_changes(previous: Mapping[str, Any], settings: Mapping[str, Any], changed: list[str]) -> str:
    """``changed`` fields of :func:`settings_differ`, each with the folder's value and this run's
    (``config`` field by field), and the flags that give back the folder's where there are such.

    >>> explain_changes({"seed": 1, "config": {"chain": 1}}, {"seed": 1, "png_level": 1, "config": {"chain": 2}},
    ...                 ["config", "png_level"])
    'config.chain: folder 1, this run 2; png_level: folder 3, this run 1 (to resume the folder as it was made, add --set chain=1 --png-level 3)'
    """
    parts, flags = [], []
    for key in changed:
        old = previous.get(key, UNRECORDED.get(key))
        new = settings.get(key, UNRECORDED.get(key))
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            pairs = [(f"{key}.{k}", old.get(k), new.get(k)) for k in sorted({*old, *new}) if old.get(k) != new.get(k)]
        else:
            pairs = [(key, old, new)]
        for name, a, b in pairs:
            if name == "config.chain" and a is None:
                a = 1  # configs saved before the chain was a field are chain 1
            parts.append(f"{name}: folder {json.dumps(a)}, this run {json.dumps(b)}")
            if name in _RESUME_FLAGS and a is not None:
                flags.append(_RESUME_FLAGS[name].format(a))
    text = "; ".join(parts)
    if flags:
        text += f" (to resume the folder as it was made, add {' '.join(flags)})"
    return text


def collect_rows(out: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of every complete pair (from meta/*.json), sorted by key."""
    meta = Path(out) / "meta"
    if not meta.is_dir():
        return []
    rows = [read_json(p) for p in meta.rglob("*.json")]
    return sorted(rows, key=lambda r: str(r["key"]))


def write_manifest(out: str | os.PathLike[str], rows: list[dict[str, Any]], name: str = MANIFEST_FILE) -> Path:
    """Write manifest.csv (or ``name``) atomically (lead columns first, then every drawn value, sorted)."""
    import pandas as pd

    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=LEAD_COLUMNS)
    lead = [c for c in LEAD_COLUMNS if c in df.columns]
    rest = sorted(c for c in df.columns if c not in lead)
    path = Path(out) / name
    atomic_write_bytes(path, df[lead + rest].to_csv(index=False).encode())
    return path


def read_csv_table(path: str | os.PathLike[str], what: str = "manifest", **kwargs: Any) -> pd.DataFrame:
    """``pandas.read_csv`` with errors that name the file (and the line, where pandas knows it).

    An empty file is an empty table.

    Raises:
        ValueError: the file is not a readable CSV table.
    """
    import pandas as pd

    p = Path(path)
    try:
        if p.stat().st_size == 0:
            return pd.DataFrame()
        return pd.read_csv(p, **kwargs)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise ValueError(f"{p}: cannot read the {what} ({detail[:200]})") from None


def read_manifest(out: str | os.PathLike[str]) -> pd.DataFrame:
    """The manifest of a pair folder as a DataFrame.

    Raises:
        FileNotFoundError: the folder has no manifest.csv.
        ValueError: the manifest is not a readable CSV table (the message names the file).
    """
    path = Path(out) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest (is {Path(out)} a folder written by blurkit make?)")
    return read_csv_table(path, dtype={"key": str, "source": str, "blur": str, "sharp": str, "kernel": str})


#: Columns every manifest has (``verify`` needs them).
REQUIRED_COLUMNS = ("key", "blur", "sharp", "height", "width")


def _plain_inside(rel: str) -> bool:
    parts = rel.replace("\\", "/").split("/")
    return bool(rel) and not rel.startswith(("/", "\\")) and not any(p in ("", ".", "..") for p in parts)


def check_manifest(out: str | os.PathLike[str]) -> list[str]:
    """Structural problems of a pair folder's manifest, one line each naming the row (``[]``: sound).

    Checks the required columns, that ``height``/``width`` are whole numbers and that every listed
    path (``blur``, ``sharp``, ``kernel``) is a plain relative path inside the folder (no ``..``, no
    absolute path, no symbolic link leading out), so that checking the files reads nothing outside it.

    Raises:
        FileNotFoundError: no manifest.
        ValueError: the manifest is unreadable or lacks a required column.
    """
    root = Path(out)
    df = read_manifest(root)
    name = root / MANIFEST_FILE
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {', '.join(missing)} (not a manifest written by blurkit?)")
    problems: list[str] = []
    real_root = os.path.realpath(root)
    for i, row in enumerate(df.itertuples(index=False), start=2):
        r = row._asdict()
        for col in ("height", "width"):
            v = r.get(col)
            try:
                ok = float(v) == int(float(v)) and int(float(v)) > 0
            except (TypeError, ValueError, OverflowError):
                ok = False
            if not ok:
                problems.append(f"{name}:{i}: {col} {v!r} is not a positive whole number")
        for col in ("blur", "sharp", "kernel"):
            v = r.get(col)
            if col == "kernel" and (not isinstance(v, str) or not v):
                continue
            if not isinstance(v, str) or not _plain_inside(v):
                problems.append(f"{name}:{i}: {col} path {v!r} is not a plain relative path inside {root}")
                continue
            real = os.path.realpath(root / v)
            if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
                problems.append(f"{name}:{i}: {col} path {v!r} leads outside {root} (symbolic link)")
    return problems


def regenerate_blurred(out: str | os.PathLike[str], key: str, device: str = "cpu") -> np.ndarray:
    """Recompute the blurred image of pair ``key`` from the pair folder (sharp image + seed + config).

    Returns the float32 RGB image before encoding. For the lossless formats (``png``, ``tif``),
    ``blurkit.io.encode_image`` of it with the run's format and PNG level gives the bytes of
    ``blur/…`` again (on the same kind of device). For ``jpg`` and ``webp`` it does not: the stored
    sharp image is itself lossy, so the blur recomputed from it differs slightly from the one made
    from the exact 8-bit source (mean absolute difference well under one grey level); keep ``png``
    where byte-exact regeneration matters.
    """
    from blurkit.ops.degrade import DegradeConfig
    from blurkit.synth.pair import blur_image

    root = Path(out)
    run = read_json(root / RUN_FILE)
    df = read_manifest(root)
    if "key" not in df.columns or "sharp" not in df.columns or "seed" not in df.columns:
        raise ValueError(f"{root / MANIFEST_FILE}: missing the key, sharp or seed column")
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
