"""How a ``make`` or ``average`` job runs: one :class:`JobOptions`, validated once when it is built.

The options say how pairs are written and how the work is spread, never what a pair holds: the
seed, preset, window and layout are arguments of :func:`blurkit.synth.make_dataset` and
:func:`blurkit.synth.average_frames`. The command line builds one ``JobOptions`` from its flags
(``blurkit/cli/jobs.py``) and hands it to both; adding an option is a field here and a flag there.

>>> JobOptions(workers=2, shard="1/4").shard
(1, 4)
>>> JobOptions(resume=True, overwrite=True)
Traceback (most recent call last):
ValueError: resume/overwrite: choose one
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from blurkit.io import PNG_LEVEL, PNG_MODE, check_png_level, check_png_mode
from blurkit.synth.manifest import LEGACY_PNG_LEVEL, LEGACY_PNG_MODE
from blurkit.synth.outputs import PairFormat
from blurkit.synth.shards import parse_shard

OUTPUT_FORMATS = ("png", "jpg", "webp", "tif")
BACKENDS = ("local", "dask")
#: Worker processes a run may ask for; more is refused (the cores cap it further, with a note).
MAX_WORKERS = 1024
#: Default limit on source size (pixels); larger images fail with a clear error (``max_pixels=0`` lifts it).
MAX_PIXELS = 64_000_000


@dataclass(frozen=True)
class JobOptions:
    """The options shared by ``make`` and ``average``.

    Attributes:
        workers: CPU worker processes (capped at the pairs to make and the cores, with a note).
        fmt: output format, ``png`` (lossless), ``jpg``, ``webp`` or ``tif``.
        quality: quality of ``jpg``/``webp`` outputs (1..100).
        png_level: zlib compression level of ``png`` outputs (0..9): file size against writing
            time, the pixels are the same (see ``docs/make.md``).
        png_mode: how ``png`` rows are compressed, ``rle`` (Paeth filter, run-length matching: the
            fastest to write and small) or ``zlib`` (libpng's filters, zlib's matching at
            ``png_level``: the files of earlier versions); the pixels are the same.
        resume: skip complete pairs of an earlier run with the same settings, redo partial ones.
        overwrite: replace existing pairs of the job (never touches other files).
        limit: make at most this many pairs (the first ones in sorted order, before sharding).
        progress: show a progress bar on stderr.
        on_error: called with (source, reason) for each failed source (the CLI prints it).
        shard: ``(i, N)`` or ``"i/N"``: make only the pairs whose key hashes to shard ``i`` of ``N``.
        backend: ``local`` (worker processes) or ``dask`` (joblib's Dask backend).
        scheduler: the Dask scheduler's address (``backend="dask"`` only; none: a local cluster).
        dry_run: plan only: count and list what would be made, write nothing.
        max_pixels: sources with more pixels fail with a clear error (0 = no limit).
        on_note: called with informative lines (e.g. fewer workers than asked for).
    """

    workers: int = 1
    fmt: str = "png"
    quality: int = 95
    png_level: int = PNG_LEVEL
    png_mode: str = PNG_MODE
    resume: bool = False
    overwrite: bool = False
    limit: int | None = None
    progress: bool = True
    on_error: Callable[[str, str], None] | None = None
    shard: tuple[int, int] | str | None = None
    backend: str = "local"
    scheduler: str | None = None
    dry_run: bool = False
    max_pixels: int = MAX_PIXELS
    on_note: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        if self.fmt not in OUTPUT_FORMATS:
            raise ValueError(f"format: expected one of {', '.join(OUTPUT_FORMATS)}, got {self.fmt!r}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality: must be in 1..100, got {self.quality}")
        check_png_level(self.png_level)
        check_png_mode(self.png_mode)
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ValueError(f"workers: must be in 1..{MAX_WORKERS}, got {self.workers}")
        if self.max_pixels < 0:
            raise ValueError(f"max_pixels: must be >= 0 (0 = no limit), got {self.max_pixels}")
        check_limit(self.limit)
        object.__setattr__(self, "shard", parse_shard(self.shard))
        if self.resume and self.overwrite:
            raise ValueError("resume/overwrite: choose one")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.scheduler is not None and self.backend != "dask":
            raise ValueError(f"scheduler: {self.scheduler!r} given without backend='dask'")

    @property
    def shard_pair(self) -> tuple[int, int] | None:
        """``shard`` as ``(i, N)`` (``None``: the whole job)."""
        return parse_shard(self.shard)

    @property
    def pair_format(self) -> PairFormat:
        """How the pairs' images are encoded (what worker processes need of these options)."""
        return PairFormat(self.fmt, self.quality, self.png_level, self.png_mode)

    @classmethod
    def build(cls, options: JobOptions | None = None, **changes: Any) -> JobOptions:
        """``options`` (default: the defaults) with ``changes`` applied, validated again.

        Raises:
            TypeError: a keyword that is not an option (named).
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise TypeError(f"{', '.join(unknown)}: not a job option (see blurkit.synth.JobOptions)")
        return dataclasses.replace(options or cls(), **changes)

    def settings(self) -> dict[str, Any]:
        """What ``blurkit.json`` records of these options; ``resume`` and ``merge`` compare it."""
        recorded: dict[str, Any] = {"format": self.fmt, "quality": self.quality}
        if self.fmt == "png":
            if self.png_level != LEGACY_PNG_LEVEL:
                recorded["png_level"] = self.png_level
            if self.png_mode != LEGACY_PNG_MODE:
                recorded["png_mode"] = self.png_mode
        return recorded


def check_limit(limit: int | None) -> None:
    """Refuse a negative ``limit`` (``None``: no limit)."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit: must be >= 0, got {limit}")


__all__ = ["BACKENDS", "MAX_PIXELS", "MAX_WORKERS", "OUTPUT_FORMATS", "JobOptions", "check_limit"]
