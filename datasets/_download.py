"""Resumable, checksum-verified downloads for the dataset scripts (standard library only)."""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

CHUNK = 1 << 20


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, checksum: str | None) -> None:
    """Check ``path`` against ``"md5:<hex>"`` or ``"sha256:<hex>"`` (None: nothing recorded yet).

    Raises:
        ValueError: the digest differs (the message names the file and both digests).
    """
    if not checksum:
        print(f"warning: no checksum recorded for {path.name}; sha256={file_digest(path, 'sha256')}", file=sys.stderr)
        return
    algorithm, expected = checksum.split(":", 1)
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise ValueError(f"{path}: {algorithm} {actual} does not match the recorded {expected} (corrupt or changed file)")


def download(url: str, dest: Path, checksum: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, resuming a partial ``dest.part`` with an HTTP Range request.

    Raises:
        ConnectionError: the server cannot be reached (offline); the message names the URL.
        ValueError: checksum mismatch.
    """
    dest = Path(dest)
    if dest.is_file():
        verify(dest, checksum)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resumed = have and resp.status == 206
            mode = "ab" if resumed else "wb"
            total = resp.headers.get("Content-Length")
            print(f"downloading {url} ({'resuming at ' + str(have) + ' bytes, ' if resumed else ''}{total or '?'} bytes)")
            with open(part, mode) as f:
                for block in iter(lambda: resp.read(CHUNK), b""):
                    f.write(block)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise ConnectionError(f"cannot download {url}: {exc} (offline? fetch it by hand into {dest})") from exc
    verify(part, checksum)
    os.replace(part, dest)
    return dest


def extract(archive: Path, into: Path) -> None:
    """Unzip ``archive`` into ``into`` (skipping members outside it)."""
    into.mkdir(parents=True, exist_ok=True)
    root = into.resolve()
    with zipfile.ZipFile(archive) as z:
        for member in z.infolist():
            target = (into / member.filename).resolve()
            if root not in target.parents and target != root:
                raise ValueError(f"{archive}: member {member.filename!r} would extract outside {into}")
        z.extractall(into)
