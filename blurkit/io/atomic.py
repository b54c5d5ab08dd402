"""Atomic writes: a temporary file in the destination folder, then a rename.

A killed process leaves the old file or the new one, never a part (plus, at worst, a
``.<name>.<random>.tmp`` file). Renamed files get the permissions a plain ``open(path, "w")`` would
give, and temporary names stay within the file system's name limit.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

#: Longest file name (bytes) most file systems accept.
NAME_MAX = 255


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


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, fsync: bool = True) -> None:
    """Write bytes to ``path`` atomically (temporary file in the same folder, rename).

    With ``fsync`` (the default) the data reach the disk before the rename, so a power loss leaves
    the old file or the new one. Pair files are written with ``fsync=False``: they are cheap to redo,
    and ``resume`` re-verifies each pair's checksums, so a pair damaged by a power loss is made again.
    """
    p = Path(path)
    fd, tmp = temp_file_for(p)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
