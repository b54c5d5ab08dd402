"""The items of a ``make`` run: one per source and variant, each with its key, seed and output name.

A pair's key is the source's relative name (``#j`` added for variant ``j``), its seed a pure function
of the base seed and the key (:func:`blurkit._rng.item_seed`), its output name the relative name
without its suffix, made safe for every file system (:func:`output_name`).
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from blurkit._rng import item_seed
from blurkit.io import NAME_MAX, shorten_name
from blurkit.synth.job import LAYOUTS, Item
from blurkit.synth.options import check_limit
from blurkit.synth.sources import SourceSet, resolve_sources

#: Largest ``variants`` accepted (larger counts are refused, not attempted).
MAX_VARIANTS = 1000
#: The scene of a ``gopro`` layout pair whose source sits directly in the source root.
ROOT_SCENE = "scene"
#: Longest suffix an output file gets (``.json``, ``.webp``), for the file-name length limit.
_LONGEST_SUFFIX = 5


def check_seed(seed: int) -> None:
    """Refuse a base seed outside ``0..2**128-1`` (what :func:`blurkit._rng.item_seed` accepts)."""
    if not 0 <= seed < 2**128:
        raise ValueError(f"seed: must be in 0..2**128-1, got {seed}")


def output_name(stem: str) -> str:
    """A pair name safe for every file system: control characters percent-encoded (``%0A``), parts
    too long for a file name (with the longest output suffix) shortened with a hash of the part.
    Ordinary names are returned unchanged.

    >>> output_name("sub/a b"), output_name("new\\nline")
    ('sub/a b', 'new%0Aline')
    """
    parts = []
    for part in stem.split("/"):
        part = "".join(f"%{ord(c):02X}" if ord(c) < 32 or ord(c) == 127 else c for c in part)
        parts.append(shorten_name(part, NAME_MAX - _LONGEST_SUFFIX))
    return "/".join(parts)


def plan_items(
    src: str | os.PathLike[str] | SourceSet, seed: int, variants: int = 1, limit: int | None = None,
    layout: str = "default",
) -> list[Item]:
    """The items of a run, in a fixed order (sorted relative names, then variants).

    ``src`` is a folder, a glob pattern or a list file (see :mod:`blurkit.synth.sources`). ``layout``
    names the outputs (see :func:`blurkit.synth.outputs.item_paths`): for ``gopro`` the scene is the
    first folder of the relative name (``scene`` for sources directly in the root) and pairs are
    numbered ``000000``, ``000001``, … per scene in sorted order; for ``basicsr`` the name's folders
    are joined with ``__``. Names are computed before ``limit`` (and before sharding), so they do not
    depend on either.
    """
    if not 1 <= variants <= MAX_VARIANTS:
        raise ValueError(f"variants: must be in 1..{MAX_VARIANTS}, got {variants}")
    check_limit(limit)
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {', '.join(LAYOUTS)}, got {layout!r}")
    sources = src if isinstance(src, SourceSet) else resolve_sources(src)
    stems: dict[str, str] = {}
    outputs: dict[str, str] = {}
    numbers: dict[str, int] = {}
    items: list[Item] = []
    for s in sources.sources:
        stem = str(PurePosixPath(s.rel).with_suffix(""))
        if stem in stems:
            raise ValueError(
                f"{sources.root}: {stems[stem]!r} and {s.rel!r} would write the same pair name {stem!r}; rename one"
            )
        stems[stem] = s.rel
        for j in range(variants):
            key = s.rel if j == 0 else f"{s.rel}#{j}"
            name = output_name(stem if variants == 1 else f"{stem}_v{j}")
            alias = ""
            if layout == "gopro":
                parts = s.rel.split("/")
                scene = output_name(parts[0]) if len(parts) > 1 else ROOT_SCENE
                n = numbers.get(scene, 0)
                numbers[scene] = n + 1
                alias = f"{scene}/{n:06d}"
            elif layout == "basicsr":
                alias = output_name("__".join((stem if variants == 1 else f"{stem}_v{j}").split("/")))
            out_stem = alias or name
            if out_stem in outputs:
                raise ValueError(
                    f"{sources.root}: {outputs[out_stem]!r} and {key!r} would write the same pair name "
                    f"{out_stem!r} (layout {layout}); rename one"
                )
            outputs[out_stem] = key
            items.append(Item(s.path, s.rel, j, key, name, item_seed(seed, key), layout=layout, alias=alias))
    return items[:limit] if limit is not None else items



__all__ = ["MAX_VARIANTS", "check_seed", "output_name", "plan_items"]
