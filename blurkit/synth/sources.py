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
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

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


__all__ = ["Source", "SourceSet", "check_rel", "is_glob", "resolve_sources"]
