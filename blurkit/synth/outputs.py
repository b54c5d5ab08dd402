"""A pair's files: where they go, how they are encoded and written, and when a pair is complete.

Every file is written through a temporary file and a rename (:func:`write_outputs`), after its path
is proven to lie inside the output folder (:func:`inside_out`). A pair's meta file is written last and
marks it complete; :func:`is_complete` also checks the checksums it records. Pair files are not
fsynced one by one: ``resume`` re-verifies every pair, so a pair damaged by a power loss is made again.
"""

from __future__ import annotations

import errno
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blurkit.io import PNG_LEVEL, PNG_MODE, atomic_write_bytes, encode_image, temp_stem
from blurkit.synth.job import Item, OutputError
from blurkit.synth.manifest import read_json, sha256_bytes, sha256_file


@dataclass(frozen=True)
class PairFormat:
    """How a pair's images are encoded: ``fmt`` (``png``, ``jpg``, ``webp``, ``tif``), the quality of
    ``jpg``/``webp`` and the PNG compression level and mode. Small and picklable, for worker processes."""

    fmt: str = "png"
    quality: int = 95
    png_level: int = PNG_LEVEL
    png_mode: str = PNG_MODE

    def encode(self, img: np.ndarray) -> bytes:
        """``img`` (float RGB in [0, 1] or 8-bit) encoded in this format."""
        return encode_image(img, "." + self.fmt, quality=self.quality, png_level=self.png_level, png_mode=self.png_mode)


def item_paths(item: Item, fmt: str, kernel: bool = True) -> dict[str, str]:
    """Output paths of a pair, relative to the output folder, in the item's layout.

    ``default``: ``blur/<name>``, ``sharp/<name>``; ``gopro``: ``<scene>/blur/NNNNNN``,
    ``<scene>/sharp/NNNNNN`` (``alias`` is ``<scene>/NNNNNN``); ``basicsr``: ``lq/<flat>``,
    ``gt/<flat>`` (``alias`` is the flattened name). Kernels and meta files sit under ``kernels/``
    and ``meta/`` with the pair's name in every layout.
    """
    if item.layout == "gopro":
        scene, _, num = item.alias.rpartition("/")
        p = {"blur": f"{scene}/blur/{num}.{fmt}", "sharp": f"{scene}/sharp/{num}.{fmt}"}
        stem = item.alias
    elif item.layout == "basicsr":
        p = {"blur": f"lq/{item.alias}.{fmt}", "sharp": f"gt/{item.alias}.{fmt}"}
        stem = item.alias
    else:
        p = {"blur": f"blur/{item.name}.{fmt}", "sharp": f"sharp/{item.name}.{fmt}"}
        stem = item.name
    if kernel:
        p["kernel"] = f"kernels/{stem}.npy"
    p["meta"] = f"meta/{stem}.json"
    return p


def source_unchanged(item: Item, row: Mapping[str, Any]) -> bool:
    """The pair's source still has the size and SHA-256 its row recorded (rows without them: True)."""
    size, sha = row.get("source_size"), row.get("source_sha256")
    if item.frames or size is None or not sha:
        return True
    try:
        return item.source.stat().st_size == int(size) and sha256_file(item.source) == sha
    except (OSError, ValueError):
        return False


def is_complete(out: Path, item: Item, fmt: str, kernel: bool = True) -> bool:
    """A pair is complete when its meta file exists, its files match their checksums and its source
    is the one it was made from (size and SHA-256, when recorded)."""
    p = item_paths(item, fmt, kernel)
    meta = out / p["meta"]
    if not meta.is_file():
        return False
    try:
        row = read_json(meta)
        if row.get("key") not in (None, item.key) or not source_unchanged(item, row):
            return False
        images_ok = all(
            (out / p[k]).is_file() and sha256_file(out / p[k]) == row.get(f"{k}_sha256") for k in ("blur", "sharp")
        )
        if not kernel:
            return images_ok
        kpath = out / p["kernel"]
        return images_ok and kpath.is_file() and row.get("kernel_sha256", sha256_file(kpath)) == sha256_file(kpath)
    except (OSError, ValueError):
        return False


def pair_exists(out: Path, p: Mapping[str, str]) -> bool:
    """Whether a file of the pair at paths ``p`` (:func:`item_paths`) exists, complete or not."""
    try:
        return (out / p["meta"]).exists() or (out / p["blur"]).exists()
    except OSError:  # a path too long for the file system: the pair fails when it is written
        return False


def inside_out(out: Path, rel: str) -> Path:
    """``out / rel``, proven to lie inside ``out``: ``rel`` is a plain relative path (no ``..``, no
    absolute or empty part, no control character) and no symbolic link on the way leads outside.

    Raises:
        ValueError: the path would lie outside ``out`` (the pair fails; nothing is written).
    """
    parts = rel.split("/")
    if (
        not rel or rel.startswith("/") or ("\\" in rel and os.sep == "\\") or any(p in ("", ".", "..") for p in parts)
        or any(ord(c) < 32 or ord(c) == 127 for c in rel)
    ):
        raise ValueError(f"{out}: refusing to write {rel!r}: not a plain path inside the output folder")
    target = out / rel
    root = os.path.realpath(out)
    parent = os.path.realpath(target.parent)
    if parent != root and not parent.startswith(root.rstrip(os.sep) + os.sep):
        raise ValueError(f"{target}: refusing to write: the folder leads outside {out} (symbolic link?)")
    if os.path.islink(target):
        raise ValueError(f"{target}: refusing to write through a symbolic link")
    return target


def write_outputs(out: Path, files: Sequence[tuple[str, bytes]]) -> None:
    """Write a pair's files atomically, in order; on failure remove the ones written and raise OutputError.

    A name too long for the file system fails this pair alone (``ValueError``), as does a path that
    would lie outside ``out`` (checked before anything is written).
    """
    written: list[Path] = []
    for rel, _ in files:
        inside_out(out, rel)
    try:
        for rel, data in files:
            atomic_write_bytes(out / rel, data, fsync=False)
            written.append(out / rel)
    except OSError as exc:
        for p in written:
            try:
                p.unlink()
            except OSError:
                pass
        if exc.errno == errno.ENAMETOOLONG:
            raise ValueError(f"{out / rel}: file name too long for the file system; rename the source") from exc
        raise OutputError(describe_write_error(out, rel, exc)) from exc


def describe_write_error(out: Path, rel: str, exc: OSError) -> str:
    reason = {
        errno.ENOSPC: "no space left on device",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
    }.get(exc.errno or -1, exc.strerror or str(exc))
    if hasattr(errno, "EDQUOT") and exc.errno == errno.EDQUOT:
        reason = "disk quota exceeded"
    return (
        f"{out / rel}: cannot write ({reason}); the run stopped, pairs written so far are complete: "
        "fix the cause and run again with --resume"
    )


def stale_tmp_files(out: Path, targets: set[str]) -> list[Path]:
    """Temporary files left by a killed run (``.<stem>.<random>.tmp``) whose target is in ``targets``."""
    wanted: dict[str, set[str]] = {}
    for rel in targets:
        folder, _, name = rel.rpartition("/")
        wanted.setdefault(folder, set()).add(temp_stem(name))
    found = []
    for folder, stems in wanted.items():
        d = out / folder if folder else out
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            if name.startswith(".") and name.endswith(".tmp") and name[1:].rsplit(".", 2)[0] in stems:
                found.append(d / name)
    return found


def remove_stale(out: Path, targets: set[str]) -> None:
    """Remove the temporary files a killed run left for ``targets`` (see :func:`stale_tmp_files`)."""
    for tmp in stale_tmp_files(out, targets):
        try:
            tmp.unlink()
        except OSError:
            pass


def encode_pair(
    item: Item, form: PairFormat, sharp8: np.ndarray, blurred: np.ndarray, kernel: np.ndarray | None,
    record: Mapping[str, Any], sharp_png: bytes | None = None,
) -> tuple[list[tuple[str, bytes]], dict[str, Any]]:
    """Encode a pair's files in memory and build its row (checksums of the bytes as written).

    ``sharp_png``: the bytes of a PNG that decodes to exactly ``sharp8`` (the source file, when
    :func:`blurkit.synth.sources.read_source` allows it); a PNG pair writes them as its sharp image
    instead of encoding the same pixels again. When ``record`` holds their ``source_sha256`` (as
    ``read_source`` computed it from these bytes) that is the sharp image's checksum too.
    """
    p = item_paths(item, form.fmt, kernel is not None)
    blur_bytes = form.encode(blurred)
    copied = sharp_png if form.fmt == "png" else None
    sharp_bytes = copied if copied is not None else form.encode(sharp8)
    files = [(p["blur"], blur_bytes), (p["sharp"], sharp_bytes)]
    known = record.get("source_sha256") if copied is not None else None
    checksums = {"blur_sha256": sha256_bytes(blur_bytes), "sharp_sha256": known or sha256_bytes(sharp_bytes)}
    if kernel is not None:
        buf = io.BytesIO()
        np.save(buf, np.asarray(kernel, dtype=np.float32))
        files.append((p["kernel"], buf.getvalue()))
        checksums["kernel_sha256"] = sha256_bytes(buf.getvalue())
    row: dict[str, Any] = {
        "key": item.key,
        "source": item.rel,
        "variant": item.variant,
        "blur": p["blur"],
        "sharp": p["sharp"],
        "kernel": p.get("kernel", ""),
        "height": int(sharp8.shape[0]),
        "width": int(sharp8.shape[1]),
        **record,
        "seed": item.seed,
        **checksums,
    }
    files.append((p["meta"], (json.dumps(row, indent=1, sort_keys=True) + "\n").encode()))
    return files, row


def write_pair(
    out: Path, item: Item, form: PairFormat, sharp8: np.ndarray, blurred: np.ndarray,
    kernel: np.ndarray | None, record: Mapping[str, Any], sharp_png: bytes | None = None,
) -> dict[str, Any]:
    """Encode and write a pair's files (meta file last); returns its manifest row (``sharp_png``: see
    :func:`encode_pair`)."""
    files, row = encode_pair(item, form, sharp8, blurred, kernel, record, sharp_png)
    write_outputs(out, files)
    return row


__all__ = [
    "PairFormat",
    "describe_write_error",
    "encode_pair",
    "inside_out",
    "is_complete",
    "item_paths",
    "pair_exists",
    "remove_stale",
    "write_outputs",
    "write_pair",
]
