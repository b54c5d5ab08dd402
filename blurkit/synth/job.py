"""What a ``make`` or ``average`` job is: its items, the function that makes one pair, what a run did.

A job is a list of :class:`Item` (each with a stable key and seed) and a picklable function that turns
one item into one manifest row, writing its files atomically (:func:`bind_item` builds one).
:func:`blurkit.synth.runner.run_job` runs a :class:`Job` with :class:`blurkit.synth.JobOptions` and
returns a :class:`MakeResult`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAYOUTS = ("default", "gopro", "basicsr")
Result = tuple["Item", "dict[str, Any] | None", "str | None"]


class OutputError(RuntimeError):
    """Writing to the output folder failed (disk full, read-only, permission): the run must stop."""


class WorkerDied(OutputError):
    """A worker process died (killed by a signal, out of memory): the run stopped, ``resume`` finishes it."""


@dataclass(frozen=True)
class Item:
    """One pair to make.

    ``source`` and ``rel`` are the sharp source (for averaging: the middle frame); ``key`` names the
    pair in the manifest and keys its seed; ``name`` is the output path stem. ``frames`` (averaging
    only) are the frames of the window, in order.
    """

    source: Path
    rel: str
    variant: int
    key: str
    name: str
    seed: int
    frames: tuple[Path, ...] = ()
    frame_rels: tuple[str, ...] = ()
    layout: str = "default"
    alias: str = ""


@dataclass
class MakeResult:
    """What a run did: pairs written, pairs already complete (resume), failures (source, reason).

    ``planned`` lists the items this run owns (after ``limit`` and ``shard``); with ``dry_run`` nothing
    is written and ``todo`` counts the pairs a real run would make.
    """

    written: int = 0
    skipped: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    out: Path | None = None
    planned: list[Item] = field(default_factory=list)
    todo: int = 0
    dry_run: bool = False
    manifest: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Job:
    """One run's work: where it writes, its items, its recorded settings and how to make one pair.

    ``fn`` makes the pair of one item (writing its files) and returns its manifest row; it must be
    picklable for worker processes (see :func:`bind_item`). ``kernel``: pairs have a kernel file.
    ``local_iter``, when given, makes a whole list of items in this process instead (the batched
    CUDA path). ``desc`` labels the progress bar. ``stages``, when given, is ``fn`` in two steps,
    ``load(item)`` (reading the source) and ``finish(item, loaded)`` (the rest; ``fn`` is then
    :func:`staged` of them): a single-process
    run reads on its main thread, where the C decoders' messages are silenced, while other threads
    blur and write the pairs already read.
    """

    out: Path
    items: Sequence[Item]
    settings: Mapping[str, Any]
    fn: Callable[[Item], dict[str, Any]]
    kernel: bool = True
    desc: str = "blurkit"
    local_iter: Callable[[Sequence[Item]], Iterable[Result]] | None = None
    stages: tuple[Callable[[Item], Any], Callable[[Item, Any], dict[str, Any]]] | None = None


def bind_item(fn: Callable[..., dict[str, Any]], *args: Any) -> Callable[[Item], dict[str, Any]]:
    """``functools.partial`` with the item last, picklable for worker processes."""
    return functools.partial(_call_last, fn, args)


def _call_last(fn: Callable[..., dict[str, Any]], args: tuple[Any, ...], item: Item) -> dict[str, Any]:
    return fn(item, *args)


def staged(
    load: Callable[[Item], Any], finish: Callable[[Item, Any], dict[str, Any]]
) -> Callable[[Item], dict[str, Any]]:
    """``finish(item, load(item))`` as one picklable ``fn`` (the ``fn`` of a job with ``stages``)."""
    return functools.partial(_run_stages, load, finish)


def _run_stages(
    load: Callable[[Item], Any], finish: Callable[[Item, Any], dict[str, Any]], item: Item
) -> dict[str, Any]:
    return finish(item, load(item))


__all__ = ["LAYOUTS", "Item", "Job", "MakeResult", "OutputError", "Result", "WorkerDied", "bind_item", "staged"]
