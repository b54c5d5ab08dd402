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
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from blurkit.io import IMAGE_SUFFIXES, list_images

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


def _rel_outside(path: Path) -> str:
    p = path.resolve()
    return PurePosixPath(p.as_posix()).relative_to(PurePosixPath(p.anchor.replace("\\", "/"))).as_posix()


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
        out.append(Source(norm, rel))
    return out


def resolve_sources(src: str | os.PathLike[str]) -> SourceSet:
    """Resolve ``src`` (folder, glob pattern or list file) into sources sorted by relative name.

    Raises:
        FileNotFoundError: ``src`` is neither an existing folder or file nor a glob pattern.
        ValueError: two sources would get the same relative name (list file), or an unreadable list.
    """
    text = os.fspath(src)
    p = Path(text)
    if p.is_dir():
        sources = [Source(q, q.relative_to(p).as_posix()) for q in list_images(p)]
        return SourceSet("folder", p, tuple(sources))
    if p.is_file():
        if p.suffix.lower() in IMAGE_SUFFIXES:
            raise ValueError(f"{p}: --src is one image; pass its folder, a glob pattern or a list file")
        items = _read_list(p)
        return SourceSet("list", p.parent, tuple(sorted(items, key=lambda s: s.rel)))
    if is_glob(text):
        root = _glob_root(text)
        matches = [
            Path(m) for m in glob.glob(text, recursive=True)
            if Path(m).is_file() and Path(m).suffix.lower() in IMAGE_SUFFIXES
        ]
        sources = [Source(m, Path(os.path.relpath(m, root)).as_posix()) for m in matches]
        return SourceSet("glob", root, tuple(sorted(sources, key=lambda s: s.rel)), pattern=text)
    raise FileNotFoundError(f"{p}: source does not exist (expected a folder, a glob pattern or a list file)")


__all__ = ["Source", "SourceSet", "is_glob", "resolve_sources"]
