"""Where sharp images come from: a folder, a glob pattern or a text file listing paths.

Every source gets a *relative name* (``rel``) that names its outputs and keys its seed. It is stable
(it depends only on where the file is, relative to the folder, the glob's fixed prefix or the list
file's folder) and unique within a run.

- **folder** ``photos/``: every image below it (recursive); ``rel`` is the path below the folder.
- **glob** ``'photos/**/*.jpg'``: the matching image files (``**`` crosses folders); ``rel`` is the
  path below the pattern's fixed prefix (``photos``).
- **list file** ``list.txt``: one path per line, relative to the list file's folder (absolute paths
  work too); blank lines and lines starting with ``#`` are ignored. ``rel`` is the path below the list
  file's folder; an entry outside it keeps its absolute path without the root (``/data/a.png`` →
  ``data/a.png``). Listed files that do not exist are reported as failures of the run, not skipped.
  A text file none of whose entries names an image file is refused (it is not a list of images).

Relative names are normalised (``a/b/../c.png`` is ``a/c.png``); a glob match that lies outside the
pattern's fixed prefix after normalisation is named like a list entry outside its folder. A relative
name therefore never holds ``..``, an absolute part or an empty part, so outputs named after it stay
inside the output folder. Broken and looping symbolic links with an image suffix are sources too:
they fail with a message that says so instead of being skipped silently.

:func:`read_source` reads one source as the 8-bit sharp target of its pair (its header checked
before decoding); :func:`check_folders` keeps the output folder apart from the sources.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from blurkit.io import (
    IMAGE_SUFFIXES,
    check_image_header,
    decode_bytes,
    decoded_to_uint8,
    is_plain_rgb8_png,
    list_images,
    read_file_bytes,
)
from blurkit.synth.manifest import sha256_bytes
from blurkit.synth.options import MAX_PIXELS

GLOB_CHARS = frozenset("*?[")
LIST_SUFFIXES = (".txt", ".lst", ".list")


@dataclass(frozen=True)
class Source:
    """One source image: its path and its relative name."""

    path: Path
    rel: str


@dataclass(frozen=True)
class SourceSet:
    """The resolved sources of a run and the root they are named against (``kind``: folder, glob, list)."""

    kind: str
    root: Path
    sources: tuple[Source, ...]
    pattern: str = ""

    def fingerprint(self) -> dict[str, Any]:
        """Count and SHA-256 of the sorted relative names: what ``resume`` compares."""
        h = hashlib.sha256()
        for s in sorted(x.rel for x in self.sources):
            h.update(s.encode("utf-8", "surrogateescape") + b"\0")
        return {"count": len(self.sources), "names_sha256": h.hexdigest()}


def is_glob(text: str) -> bool:
    return any(c in text for c in GLOB_CHARS)


def _glob_root(pattern: str) -> Path:
    parts = PurePosixPath(Path(pattern).as_posix()).parts
    fixed: list[str] = []
    for part in parts:
        if is_glob(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _rel_outside(path: Path, follow: bool = True) -> str:
    """An absolute path without its root (``/data/a.png`` → ``data/a.png``): the name of a source
    outside the folder it is named against. ``follow=False`` keeps a symbolic link's own name (its
    folder is still resolved), so two links to one file stay two sources."""
    try:
        p = path.resolve() if follow else path.parent.resolve() / path.name
    except (RuntimeError, OSError):  # a symbolic link loop: keep the name as written
        p = Path(os.path.normpath(os.path.abspath(path)))
    return PurePosixPath(p.as_posix()).relative_to(PurePosixPath(p.anchor.replace("\\", "/"))).as_posix()


def check_rel(rel: str, where: object) -> str:
    """Refuse a relative name with ``..``, an absolute or empty part (outputs are named after it)."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{where}: source name {rel!r} is not a plain relative path; rename or move the file")
    return rel


def _broken_links(root: Path) -> list[Path]:
    """Symbolic links below ``root`` with an image suffix whose target does not resolve (broken, loop)."""
    found = []
    for dirpath, dirnames, names in os.walk(root):
        for name in names + dirnames:
            q = Path(dirpath) / name
            if q.suffix.lower() in IMAGE_SUFFIXES and q.is_symlink() and not q.exists():
                found.append(q)
    return found


def _read_list(list_file: Path) -> list[Source]:
    base = list_file.parent
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{list_file}: cannot read the list of sources ({exc})") from exc
    out: list[Source] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry = Path(line)
        path = entry if entry.is_absolute() else base / entry
        norm = Path(os.path.normpath(path))
        try:
            rel = norm.relative_to(Path(os.path.normpath(base))).as_posix()
        except ValueError:
            rel = _rel_outside(norm)
        if rel in seen:
            raise ValueError(f"{list_file}:{lineno}: {line!r} repeats the source of line {seen[rel]}")
        seen[rel] = lineno
        out.append(Source(norm, check_rel(rel, f"{list_file}:{lineno}")))
    if out and not any(s.path.suffix.lower() in IMAGE_SUFFIXES for s in out):
        first = next(ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#"))
        raise ValueError(
            f"{list_file}: not a list of images: no line names an image file (first entry {first[:80]!r}; "
            f"image suffixes: {' '.join(IMAGE_SUFFIXES)})"
        )
    return out


def resolve_sources(src: str | os.PathLike[str]) -> SourceSet:
    """Resolve ``src`` (folder, glob pattern or list file) into sources sorted by relative name.

    Raises:
        FileNotFoundError: ``src`` is neither an existing folder or file nor a glob pattern.
        ValueError: two sources would get the same relative name (list file), or an unreadable list.
    """
    text = os.fspath(src)
    if not text.strip():
        raise ValueError("src: empty; pass a folder, a glob pattern or a list file")
    p = Path(text)
    if p.is_dir():
        found = list_images(p) + _broken_links(p)
        sources = [Source(q, check_rel(q.relative_to(p).as_posix(), p)) for q in found]
        return SourceSet("folder", p, tuple(sorted(sources, key=lambda s: s.rel)))
    if p.is_file():
        if p.suffix.lower() in IMAGE_SUFFIXES:
            raise ValueError(f"{p}: --src is one image; pass its folder, a glob pattern or a list file")
        items = _read_list(p)
        return SourceSet("list", p.parent, tuple(sorted(items, key=lambda s: s.rel)))
    if is_glob(text):
        root = Path(os.path.normpath(_glob_root(text)))
        matches = {
            os.path.normpath(m): Path(m) for m in glob.glob(text, recursive=True)
            if Path(m).suffix.lower() in IMAGE_SUFFIXES and (Path(m).is_file() or Path(m).is_symlink())
        }
        by_rel: dict[str, Source] = {}
        for norm in sorted(matches):
            rel = os.path.relpath(norm, root)
            if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
                rel = _rel_outside(Path(norm), follow=False)
            rel = check_rel(Path(rel).as_posix(), text)
            if rel in by_rel:
                raise ValueError(f"{text}: two matches would get the same source name {rel!r}")
            by_rel[rel] = Source(matches[norm], rel)
        sources = list(by_rel.values())
        return SourceSet("glob", root, tuple(sorted(sources, key=lambda s: s.rel)), pattern=text)
    raise FileNotFoundError(f"{p}: source does not exist (expected a folder, a glob pattern or a list file)")


def check_folders(sources: SourceSet, out: Path) -> None:
    """Refuse an output folder that would mix with the sources: inside a source folder (or a recursive
    glob's root), containing it, or containing any source file (symbolic links resolved).

    A flat glob (``photos/*.png``) may write into a folder below its root: its outputs sit at least
    two levels below the output folder and can never match it, and no source lies inside it.
    """
    o = out.resolve()
    if sources.kind == "folder" or "**" in sources.pattern:
        s = sources.root.resolve()
        if o == s or s in o.parents:
            raise ValueError(f"{out}: the output folder must not be inside the source folder {sources.root}")
        if o in s.parents:
            raise ValueError(f"{out}: the output folder must not contain the source folder {sources.root}")
    for src in sources.sources:
        try:
            real = src.path.resolve()
        except (RuntimeError, OSError):  # a symbolic link loop: it fails when read
            continue
        if real == o or o in real.parents:
            raise ValueError(f"{out}: the output folder must not contain a source ({src.path})")


def check_pixels(path: Path, max_pixels: int) -> None:
    """Refuse a source larger than ``max_pixels`` from its header alone (before decoding it).

    The size is read the way the decoder that will decode the file sees it (by its leading bytes,
    not its suffix); a file whose size cannot be told is refused (see
    :func:`blurkit.io.check_image_header`).
    """
    check_image_header(read_file_bytes(path), path, max_pixels)


def read_source(path: Path, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, dict[str, Any], bytes | None]:
    """The sharp target as 8-bit RGB, what identifies its source (``source_size``,
    ``source_sha256``), and the source's bytes when they can be the pair's sharp PNG unchanged.

    The file is read once: its header is checked (size, pages), then it is decoded. The third value
    is not ``None`` only for a PNG of plain 8-bit RGB (:func:`blurkit.io.is_plain_rgb8_png`): every
    reader decodes those bytes to exactly the returned levels, so a PNG pair can copy them instead
    of encoding the same pixels again.
    """
    data = read_file_bytes(path)
    check_image_header(data, path, max_pixels)
    img = decoded_to_uint8(decode_bytes(data, path), path)
    raw = data.tobytes()
    source_id = {"source_size": int(data.size), "source_sha256": sha256_bytes(raw)}
    return img, source_id, raw if is_plain_rgb8_png(raw) else None


def read_sharp8(path: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The sharp target as 8-bit RGB (H, W, 3): what is written and what the blur starts from.

    Same result as ``to_uint(read_image(path))`` (EXIF orientation applied, gray expanded, alpha
    dropped, 16-bit rounded to 8), without a float round trip for 8-bit files.
    """
    return read_source(path, max_pixels)[0]


__all__ = [
    "Source",
    "SourceSet",
    "check_folders",
    "check_pixels",
    "check_rel",
    "is_glob",
    "read_sharp8",
    "read_source",
    "resolve_sources",
]
