"""The job machinery shared by ``make`` and ``average``: planning, resuming, sharding, running, manifests.

A job is a list of :class:`Item` (each with a stable key and seed) and a picklable function that turns
one item into one manifest row, writing its files atomically. :func:`run_job` decides which items
this run owns (``shard``) and still has to do (``resume``), runs them locally, in worker processes
or on a Dask cluster, collects failures and writes the manifest.

Failures of one source (unreadable, corrupt, too small, too large) are recorded and the run goes on.
Failures to *write* (disk full, read-only folder) stop the run with :class:`OutputError`: every pair
written before stays complete, the failed pair leaves no file behind, and ``resume`` finishes later.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blurkit.io import ImageReadError, atomic_write_bytes, temp_file_for
from blurkit.synth.manifest import (
    ERRORS_FILE,
    MANIFEST_FILE,
    RUN_FILE,
    collect_rows,
    read_json,
    sha256_file,
    write_json,
    write_manifest,
)

BACKENDS = ("local", "dask")
Result = tuple["Item", "dict[str, Any] | None", "str | None"]


class OutputError(RuntimeError):
    """Writing to the output folder failed (disk full, read-only, permission): the run must stop."""


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


# -- sharding -----------------------------------------------------------------------------------


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"i/N"`` (0 <= i < N) → ``(i, N)``; ``None`` stays ``None``.

    >>> parse_shard("1/4")
    (1, 4)
    """
    if shard is None:
        return None
    if isinstance(shard, str):
        a, sep, b = shard.partition("/")
        try:
            i, n = int(a), int(b)
        except ValueError:
            raise ValueError(f"shard: expected I/N such as 0/4, got {shard!r}") from None
        if not sep:
            raise ValueError(f"shard: expected I/N such as 0/4, got {shard!r}")
    else:
        i, n = int(shard[0]), int(shard[1])
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"shard: expected 0 <= I < N, got {i}/{n}")
    return i, n


def shard_of(key: str, n: int) -> int:
    """The shard (0..n-1) that owns ``key``: a hash of the key alone, stable across machines.

    >>> shard_of("a.png", 4) == shard_of("a.png", 4)
    True
    """
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little") % n


def shard_suffix(shard: tuple[int, int]) -> str:
    return f"shard-{shard[0]}-of-{shard[1]}"


def manifest_name(shard: tuple[int, int] | None) -> str:
    return MANIFEST_FILE if shard is None else f"manifest.{shard_suffix(shard)}.csv"


def errors_name(shard: tuple[int, int] | None) -> str:
    return ERRORS_FILE if shard is None else f"errors.{shard_suffix(shard)}.csv"


def plan_name(shard: tuple[int, int]) -> str:
    return f"plan.{shard_suffix(shard)}.json"


# -- outputs ------------------------------------------------------------------------------------


def item_paths(item: Item, fmt: str, kernel: bool = True) -> dict[str, str]:
    """Output paths of a pair, relative to the output folder."""
    p = {"blur": f"blur/{item.name}.{fmt}", "sharp": f"sharp/{item.name}.{fmt}"}
    if kernel:
        p["kernel"] = f"kernels/{item.name}.npy"
    p["meta"] = f"meta/{item.name}.json"
    return p


def is_complete(out: Path, item: Item, fmt: str, kernel: bool = True) -> bool:
    """A pair is complete when its meta file exists and its files match their checksums."""
    p = item_paths(item, fmt, kernel)
    meta = out / p["meta"]
    if not meta.is_file():
        return False
    try:
        row = read_json(meta)
        images_ok = all(
            (out / p[k]).is_file() and sha256_file(out / p[k]) == row.get(f"{k}_sha256") for k in ("blur", "sharp")
        )
        if not kernel:
            return images_ok
        kpath = out / p["kernel"]
        return images_ok and kpath.is_file() and row.get("kernel_sha256", sha256_file(kpath)) == sha256_file(kpath)
    except (OSError, ValueError):
        return False


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A killed process leaves the old file or the new one, never a part (plus, at worst, a
    ``.<name>.<random>.tmp`` file that the next ``resume`` removes). Unlike
    :func:`blurkit.io.atomic_write_bytes` there is no fsync per file: pair files are cheap to redo,
    and ``resume`` re-verifies each pair's checksums, so a pair damaged by a power loss is made again.
    """
    fd, tmp = temp_file_for(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_outputs(out: Path, files: Sequence[tuple[str, bytes]]) -> None:
    """Write a pair's files atomically, in order; on failure remove the ones written and raise OutputError."""
    written: list[Path] = []
    try:
        for rel, data in files:
            atomic_write(out / rel, data)
            written.append(out / rel)
    except OSError as exc:
        for p in written:
            try:
                p.unlink()
            except OSError:
                pass
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


def _stale_tmp_files(out: Path, targets: set[str]) -> list[Path]:
    """Temporary files left by a killed run (``.<name>.<random>.tmp``) whose target is in ``targets``."""
    found = []
    for sub in ("blur", "sharp", "kernels", "meta"):
        root = out / sub
        if not root.is_dir():
            continue
        for dirpath, _, names in os.walk(root):
            for name in names:
                if name.startswith(".") and name.endswith(".tmp"):
                    target = name[1:].rsplit(".", 2)[0]
                    rel = (Path(dirpath) / target).relative_to(out).as_posix()
                    if rel in targets:
                        found.append(Path(dirpath) / name)
    return found


# -- running ------------------------------------------------------------------------------------


def safe_call(fn: Callable[[Item], dict[str, Any]], item: Item) -> Result:
    """Run ``fn(item)``; a failure of the source becomes the item's error, OutputError propagates."""
    try:
        return item, fn(item), None
    except OutputError:
        raise
    except (ImageReadError, FileNotFoundError, ValueError, OSError, MemoryError) as exc:
        return item, None, str(exc) or type(exc).__name__


def quiet_decoder_warnings() -> None:
    """Silence OpenCV's decoder warnings (a bad file is reported once, as the run's failure line)."""
    import cv2

    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # pragma: no cover - builds without the logging module
        pass


def run_chunk(fn: Callable[[Item], dict[str, Any]], items: Sequence[Item]) -> list[Result]:
    """Run in a worker process: one thread each for torch and numba (the pool provides parallelism)."""
    import numba
    import torch

    quiet_decoder_warnings()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    return [safe_call(fn, it) for it in items]


def _execute(
    todo: Sequence[Item], fn: Callable[[Item], dict[str, Any]], workers: int, backend: str,
    scheduler: str | None, progress: bool, desc: str,
    local_iter: Callable[[Sequence[Item]], Iterable[Result]] | None,
) -> Iterable[Result]:
    from tqdm import tqdm

    bar = tqdm(total=len(todo), unit="pair", disable=not progress, file=sys.stderr, desc=desc)
    try:
        if local_iter is not None:
            for res in local_iter(todo):
                bar.update(1)
                yield res
        elif backend == "local" and workers == 1:
            for it in todo:
                res = safe_call(fn, it)
                bar.update(1)
                yield res
        else:
            import joblib

            if backend == "dask":
                from distributed import Client

                client = Client(scheduler) if scheduler else Client(processes=False)
                n_jobs = -1
                ctx = joblib.parallel_config(backend="dask")
            else:
                client = None
                n_jobs = workers
                ctx = joblib.parallel_config(backend="loky")
            size = max(1, min(8, len(todo) // (max(workers, 2) * 4) or 1))
            chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
            try:
                with ctx:
                    par = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered", pre_dispatch="2*n_jobs")
                    for results in par(joblib.delayed(run_chunk)(fn, c) for c in chunks):
                        for res in results:
                            bar.update(1)
                            yield res
            finally:
                if client is not None:
                    client.close()
    finally:
        bar.close()


def _write_errors(path: Path, errors: Sequence[tuple[str, str]]) -> None:
    import pandas as pd

    if errors:
        df = pd.DataFrame(list(errors), columns=["source", "reason"]).drop_duplicates()
        atomic_write_bytes(path, df.to_csv(index=False).encode())
    elif path.exists():
        path.unlink()


def run_job(
    *,
    out: Path,
    items: list[Item],
    settings: Mapping[str, Any],
    fn: Callable[[Item], dict[str, Any]],
    fmt: str,
    kernel: bool,
    resume: bool = False,
    overwrite: bool = False,
    workers: int = 1,
    backend: str = "local",
    scheduler: str | None = None,
    shard: tuple[int, int] | None = None,
    dry_run: bool = False,
    progress: bool = True,
    on_error: Callable[[str, str], None] | None = None,
    desc: str = "blurkit",
    local_iter: Callable[[Sequence[Item]], Iterable[Result]] | None = None,
) -> MakeResult:
    """Run ``fn`` over the items this run owns and write the manifest (see the module docstring).

    Raises:
        FileExistsError: pairs of this job exist and neither ``resume`` nor ``overwrite`` is set.
        ValueError: ``resume`` with settings that differ from the folder's ``blurkit.json``.
        OutputError: the output folder cannot be written (the run stopped).
    """
    if resume and overwrite:
        raise ValueError("resume/overwrite: choose one")
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if scheduler is not None and backend != "dask":
        raise ValueError(f"scheduler: {scheduler!r} given without backend='dask'")
    if backend == "dask" and local_iter is not None:
        raise ValueError("backend: the Dask backend runs on CPU workers; use device='cpu'")
    if shard is not None:
        items = [it for it in items if shard_of(it.key, shard[1]) == shard[0]]
    result = MakeResult(out=out, planned=list(items), dry_run=dry_run)
    paths = {it.key: item_paths(it, fmt, kernel) for it in items}
    existing = [it for it in items if (out / paths[it.key]["meta"]).exists() or (out / paths[it.key]["blur"]).exists()]
    run_file = out / RUN_FILE
    if dry_run:
        result.skipped = len(existing) if resume else 0
        result.todo = len(items) - result.skipped
        return result
    if existing and not (resume or overwrite):
        raise FileExistsError(
            f"{out}: already holds {len(existing)} pair(s) of this job (e.g. {paths[existing[0].key]['blur']}); "
            "pass --resume to finish an interrupted run or --overwrite to replace them"
        )
    if resume and run_file.is_file():
        previous = read_json(run_file)
        changed = sorted(k for k in settings if k != "blurkit_version" and previous.get(k) != settings[k])
        if changed:
            raise ValueError(
                f"{run_file}: --resume with different settings ({', '.join(changed)}); "
                "use the same settings or a new output folder"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_json(run_file, dict(settings))
    except OSError as exc:
        raise OutputError(describe_write_error(out, RUN_FILE, exc)) from exc

    targets = {rel for p in paths.values() for rel in p.values()}
    for tmp in _stale_tmp_files(out, targets):
        try:
            tmp.unlink()
        except OSError:
            pass

    todo = []
    existing_keys = {it.key for it in existing}
    for it in items:
        if resume and it.key in existing_keys and is_complete(out, it, fmt, kernel):
            result.skipped += 1
        else:
            todo.append(it)
    result.todo = len(todo)

    stopped: OutputError | None = None
    try:
        for it, row, err in _execute(todo, fn, workers, backend, scheduler, progress, desc, local_iter):
            if err is not None:
                result.errors.append((it.rel, err))
                if on_error is not None:
                    on_error(it.rel, err)
            elif row is not None:
                result.written += 1
    except OutputError as exc:
        stopped = exc
    try:
        keys = {it.key for it in items} if shard is not None else None
        rows = [r for r in collect_rows(out) if keys is None or r["key"] in keys]
        result.manifest = write_manifest(out, rows, name=manifest_name(shard))
        if shard is not None:
            write_json(out / plan_name(shard), {"shard": list(shard), "keys": sorted(it.key for it in items)})
        _write_errors(out / errors_name(shard), result.errors)
    except OSError as exc:
        if stopped is None:
            stopped = OutputError(describe_write_error(out, manifest_name(shard), exc))
    if stopped is not None:
        raise stopped
    return result


def bind_item(fn: Callable[..., dict[str, Any]], *args: Any) -> Callable[[Item], dict[str, Any]]:
    """``functools.partial`` with the item last, picklable for worker processes."""
    return functools.partial(_call_last, fn, args)


def _call_last(fn: Callable[..., dict[str, Any]], args: tuple[Any, ...], item: Item) -> dict[str, Any]:
    return fn(item, *args)


def plan_report(result: MakeResult, fmt: str, kernel: bool, show: int = 5) -> str:
    """Human-readable lines describing a dry run: counts, the first items and their output paths."""
    out = result.out or Path(".")
    lines = [
        f"{len(result.planned)} pair(s) planned, {result.skipped} already present, {result.todo} to make -> {out}"
    ]
    for it in result.planned[:show]:
        p = item_paths(it, fmt, kernel)
        src = f"{len(it.frames)} frames {it.frame_rels[0]}..{it.frame_rels[-1]}" if it.frames else it.rel
        lines.append(f"  {src} -> {out / p['blur']}, {out / p['sharp']}")
    if len(result.planned) > show:
        lines.append(f"  ... and {len(result.planned) - show} more")
    return "\n".join(lines)


__all__ = [
    "BACKENDS",
    "Item",
    "MakeResult",
    "OutputError",
    "is_complete",
    "item_paths",
    "parse_shard",
    "plan_report",
    "run_job",
    "shard_of",
]
