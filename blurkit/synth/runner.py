"""The job machinery shared by ``make`` and ``average``: planning, resuming, sharding, running, manifests.

A job is a list of :class:`Item` (each with a stable key and seed) and a picklable function that turns
one item into one manifest row, writing its files atomically. :func:`run_job` decides which items
this run owns (``shard``) and still has to do (``resume``), runs them locally, in worker processes
or on a Dask cluster, collects failures and writes the manifest.

Failures of one source (unreadable, corrupt, too small, too large) are recorded and the run goes on.
Failures to *write* (disk full, read-only folder) stop the run with :class:`OutputError`: every pair
written before stays complete, the failed pair leaves no file behind, and ``resume`` finishes later.
A worker process that dies (killed by a signal, out of memory) stops the run the same way.

Safety: a run holds a lock on its output folder (:class:`JobLock`), so a second run on the same
folder is refused while the first is alive; every output path is checked to lie inside the output
folder (after normalisation and symbolic links) before it is written; worker processes exit when the
process that started them dies.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blurkit.io import ImageReadError, atomic_write_bytes, temp_file_for, temp_stem
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
LAYOUTS = ("default", "gopro", "basicsr")
#: Worker processes a run may ask for; more is refused (the cores cap it further, with a note).
MAX_WORKERS = 1024
LOCK_FILE = ".blurkit.lock"
Result = tuple["Item", "dict[str, Any] | None", "str | None"]


class OutputError(RuntimeError):
    """Writing to the output folder failed (disk full, read-only, permission): the run must stop."""


class WorkerDied(OutputError):
    """A worker process died (killed by a signal, out of memory): the run stopped, ``resume`` finishes it."""


class JobLocked(ValueError):
    """Another live ``blurkit`` job holds the output folder's lock."""


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
            atomic_write(out / rel, data)
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


def _stale_tmp_files(out: Path, targets: set[str]) -> list[Path]:
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


def _remove_stale(out: Path, targets: set[str]) -> None:
    for tmp in _stale_tmp_files(out, targets):
        try:
            tmp.unlink()
        except OSError:
            pass


# -- the job lock -------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class JobLock:
    """An OS lock on an output folder, held for the run: ``<out>/.blurkit.lock`` holds the owner's PID.

    An unsharded run holds it exclusively; shard runs hold it shared (shards of one job may write one
    folder at the same time) plus an exclusive lock of their own shard. The OS releases the locks when
    the process dies, so a lock file left by a dead process is stale and taken over. Where the file
    system has no locks (``fcntl`` missing), the PID written in the file is checked instead.
    """

    def __init__(self, out: Path, shard: tuple[int, int] | None = None) -> None:
        self.out = out
        self.shard = shard
        self._files: list[tuple[Path, int]] = []

    def _take(self, path: Path, exclusive: bool) -> None:
        import fcntl

        while True:
            try:  # never through a symbolic link: the lock file is truncated and written
                fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise ValueError(f"{path}: the lock file is a symbolic link; remove it") from None
                raise
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_pid(fd)
                os.close(fd)
                self.release()
                who = f" (PID {owner})" if owner else ""
                raise JobLocked(
                    f"{self.out}: another blurkit job{who} is writing this folder; wait for it to finish "
                    "or use another --out"
                ) from None
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    return  # no locks on this file system: run unlocked
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # removed by its previous owner meanwhile: take the new one
                os.close(fd)
                continue
            if exclusive:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._files.append((path, fd))
            return

    def acquire(self) -> JobLock:
        try:
            import fcntl  # noqa: F401
        except ImportError:  # pragma: no cover - Windows
            return self._acquire_by_pid()
        self._take(self.out / LOCK_FILE, exclusive=self.shard is None)
        if self.shard is not None:
            self._take(self.out / f".blurkit.shard-{self.shard[0]}-of-{self.shard[1]}.lock", exclusive=True)
        return self

    def _acquire_by_pid(self) -> JobLock:  # pragma: no cover - Windows
        path = self.out / LOCK_FILE
        try:
            owner = int(path.read_text().strip() or 0)
        except (OSError, ValueError):
            owner = 0
        if owner and owner != os.getpid() and _pid_alive(owner):
            raise JobLocked(f"{self.out}: another blurkit job (PID {owner}) is writing this folder")
        path.write_text(f"{os.getpid()}\n")
        self._files.append((path, -1))
        return self

    def release(self) -> None:
        for path, fd in reversed(self._files):
            if fd < 0:  # pragma: no cover - Windows
                path.unlink(missing_ok=True)
                continue
            import fcntl

            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # last holder: remove the file
                path.unlink(missing_ok=True)
            except OSError:
                pass
            os.close(fd)
        self._files = []

    def __enter__(self) -> JobLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0)
    except (OSError, ValueError):
        return 0


# -- running ------------------------------------------------------------------------------------


def safe_call(fn: Callable[[Item], dict[str, Any]], item: Item) -> Result:
    """Run ``fn(item)``; a failure of the source becomes the item's error, OutputError propagates.

    Any other exception (a decoder's internal error, say) also fails the item alone, named.
    """
    try:
        return item, fn(item), None
    except OutputError:
        raise
    except (ImageReadError, FileNotFoundError, ValueError, OSError) as exc:
        return item, None, str(exc) or type(exc).__name__
    except MemoryError:
        return item, None, f"{item.source}: out of memory while making this pair (lower --max-pixels or --workers)"
    except Exception as exc:
        return item, None, f"{item.source}: {type(exc).__name__}: {str(exc).strip().splitlines()[-1:] or ''}"


def quiet_decoder_warnings() -> None:
    """Silence OpenCV's decoder warnings (a bad file is reported once, as the run's failure line)."""
    import cv2

    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # pragma: no cover - builds without the logging module
        pass


_WATCHDOG: list[int] = []


def _watch_parent(parent: int) -> None:
    """In a worker process: exit as soon as the process that started the run is gone."""
    if _WATCHDOG:
        return
    _WATCHDOG.append(parent)

    def watch() -> None:
        import time

        while True:
            if os.getppid() != parent and not _pid_alive(parent):
                os._exit(1)
            time.sleep(0.25)

    threading.Thread(target=watch, name="blurkit-parent-watchdog", daemon=True).start()


def run_chunk(
    fn: Callable[[Item], dict[str, Any]], items: Sequence[Item], parent: int | None = None
) -> list[Result]:
    """Run in a worker process: one thread each for torch and numba (the pool provides parallelism).

    ``parent``: the PID of the process that started the run; the worker exits when it dies.
    """
    import numba
    import torch

    if parent is not None:
        _watch_parent(parent)
    quiet_decoder_warnings()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    return [safe_call(fn, it) for it in items]


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def effective_workers(workers: int, todo: int) -> int:
    """Worker processes worth starting: no more than the pairs to make and the cores available."""
    return max(1, min(workers, todo, available_cores()))


def _worker_death(exc: BaseException) -> WorkerDied:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return WorkerDied(
        f"a worker process died ({detail[:200]}; killed by a signal, perhaps out of memory): the run stopped, "
        "pairs written so far are complete: run again with --resume (with fewer --workers or a lower "
        "--max-pixels if memory is short)"
    )


def _execute(
    todo: Sequence[Item], fn: Callable[[Item], dict[str, Any]], workers: int, backend: str,
    scheduler: str | None, progress: bool, desc: str,
    local_iter: Callable[[Sequence[Item]], Iterable[Result]] | None,
) -> Iterable[Result]:
    from concurrent.futures.process import BrokenProcessPool

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
            from joblib.externals.loky.process_executor import BrokenProcessPool as LokyBroken

            size = max(1, min(8, len(todo) // (max(workers, 2) * 4) or 1))
            chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
            parent = os.getpid() if backend == "local" else None
            try:
                with ctx:
                    par = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered", pre_dispatch="2*n_jobs")
                    for results in par(joblib.delayed(run_chunk)(fn, c, parent) for c in chunks):
                        for res in results:
                            bar.update(1)
                            yield res
            except (BrokenProcessPool, LokyBroken) as exc:
                raise _worker_death(exc) from None
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
    on_note: Callable[[str], None] | None = None,
) -> MakeResult:
    """Run ``fn`` over the items this run owns and write the manifest (see the module docstring).

    Raises:
        FileExistsError: pairs of this job exist and neither ``resume`` nor ``overwrite`` is set.
        ValueError: ``resume`` with settings that differ from the folder's ``blurkit.json``, a folder
            holding a job with other settings (without ``overwrite``), ``out`` is a file.
        JobLocked: another live job holds the folder's lock.
        OutputError: the output folder cannot be written (the run stopped); :class:`WorkerDied` when a
            worker process died.
    """
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers: must be in 1..{MAX_WORKERS}, got {workers}")
    if resume and overwrite:
        raise ValueError("resume/overwrite: choose one")
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if scheduler is not None and backend != "dask":
        raise ValueError(f"scheduler: {scheduler!r} given without backend='dask'")
    if backend == "dask" and local_iter is not None:
        raise ValueError("backend: the Dask backend runs on CPU workers; use device='cpu'")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: --out is a file, not a folder; pass a folder for the pairs")
    if shard is not None:
        items = [it for it in items if shard_of(it.key, shard[1]) == shard[0]]
    result = MakeResult(out=out, planned=list(items), dry_run=dry_run)
    paths = {it.key: item_paths(it, fmt, kernel) for it in items}
    if dry_run:
        existing = [it for it in items if _exists(out, paths[it.key])]
        result.skipped = len(existing) if resume else 0
        result.todo = len(items) - result.skipped
        return result
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(describe_write_error(out.parent, out.name, exc)) from exc
    try:
        lock = JobLock(out, shard).acquire()
    except OSError as exc:
        raise OutputError(describe_write_error(out, LOCK_FILE, exc)) from exc
    try:
        return _run_locked(
            out, items, settings, fn, fmt, kernel, resume, overwrite, workers, backend, scheduler, shard,
            progress, on_error, desc, local_iter, on_note, result, paths,
        )
    finally:
        lock.release()


def _exists(out: Path, p: Mapping[str, str]) -> bool:
    try:
        return (out / p["meta"]).exists() or (out / p["blur"]).exists()
    except OSError:  # a path too long for the file system: the pair fails when it is written
        return False


def settings_differ(previous: Mapping[str, Any], settings: Mapping[str, Any]) -> list[str]:
    """Fields of ``settings`` that differ from an earlier run's (the version is not compared; fields
    that older versions did not record, such as ``sources``, are not compared when absent)."""
    optional = {"sources": None, "layout": "default"}
    changed = []
    for k, v in settings.items():
        if k == "blurkit_version":
            continue
        if k in optional and k not in previous:
            if optional[k] is None or v == optional[k]:
                continue
        if previous.get(k) != v:
            changed.append(k)
    changed += [k for k, d in optional.items() if k in previous and k not in settings and previous[k] != d]
    return sorted(changed)


def _run_locked(
    out: Path, items: list[Item], settings: Mapping[str, Any], fn: Callable[[Item], dict[str, Any]], fmt: str,
    kernel: bool, resume: bool, overwrite: bool, workers: int, backend: str, scheduler: str | None,
    shard: tuple[int, int] | None, progress: bool, on_error: Callable[[str, str], None] | None, desc: str,
    local_iter: Callable[[Sequence[Item]], Iterable[Result]] | None, on_note: Callable[[str], None] | None,
    result: MakeResult, paths: dict[str, dict[str, str]],
) -> MakeResult:
    run_file = out / RUN_FILE
    existing = [it for it in items if _exists(out, paths[it.key])]
    if existing and not (resume or overwrite):
        raise FileExistsError(
            f"{out}: already holds {len(existing)} pair(s) of this job (e.g. {paths[existing[0].key]['blur']}); "
            "pass --resume to finish an interrupted run or --overwrite to replace them"
        )
    if run_file.is_file() and not overwrite:
        previous = read_json(run_file)
        changed = settings_differ(previous, settings)
        if changed and resume:
            raise ValueError(
                f"{run_file}: --resume with different settings ({', '.join(changed)}); "
                "use the same settings or a new output folder"
            )
        if changed and collect_rows_exist(out):
            raise ValueError(
                f"{run_file}: this folder holds pairs of a job with other settings ({', '.join(changed)}); "
                "use a new output folder, or --overwrite to replace them"
            )
    try:
        write_json(run_file, dict(settings))
    except OSError as exc:
        raise OutputError(describe_write_error(out, RUN_FILE, exc)) from exc

    targets = {rel for p in paths.values() for rel in p.values()}
    _remove_stale(out, targets)

    todo = []
    existing_keys = {it.key for it in existing}
    for it in items:
        if resume and it.key in existing_keys and is_complete(out, it, fmt, kernel):
            result.skipped += 1
        else:
            todo.append(it)
    result.todo = len(todo)
    n_workers = workers
    if backend == "local" and local_iter is None:
        n_workers = effective_workers(workers, len(todo))
        if n_workers < workers and on_note is not None and todo:
            on_note(
                f"workers: using {n_workers} of the {workers} asked for "
                f"({len(todo)} pair(s) to make, {available_cores()} core(s) available)"
            )

    stopped: OutputError | None = None
    try:
        for it, row, err in _execute(todo, fn, n_workers, backend, scheduler, progress, desc, local_iter):
            if err is not None:
                result.errors.append((it.rel, err))
                if on_error is not None:
                    on_error(it.rel, err)
            elif row is not None:
                result.written += 1
    except OutputError as exc:
        stopped = exc
        _remove_stale(out, targets)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM through the CLI: workers are gone, tidy up
        _remove_stale(out, targets)
        raise
    try:
        keys = {it.key for it in items} if shard is not None else None
        rows = [r for r in collect_rows(out) if keys is None or r["key"] in keys]
        result.manifest = write_manifest(out, rows, name=manifest_name(shard))
        if shard is not None:
            write_json(
                out / plan_name(shard),
                {"shard": list(shard), "keys": sorted(it.key for it in items), "settings": dict(settings)},
            )
        _write_errors(out / errors_name(shard), result.errors)
    except OSError as exc:
        if stopped is None:
            stopped = OutputError(describe_write_error(out, manifest_name(shard), exc))
    if stopped is not None:
        raise stopped
    return result


def collect_rows_exist(out: Path) -> bool:
    """Whether ``out`` holds at least one pair's meta file (of any job)."""
    meta = out / "meta"
    if not meta.is_dir():
        return False
    return any(True for _ in meta.rglob("*.json"))


def bind_item(fn: Callable[..., dict[str, Any]], *args: Any) -> Callable[[Item], dict[str, Any]]:
    """``functools.partial`` with the item last, picklable for worker processes."""
    return functools.partial(_call_last, fn, args)


def _call_last(fn: Callable[..., dict[str, Any]], args: tuple[Any, ...], item: Item) -> dict[str, Any]:
    return fn(item, *args)


def one_line(text: str) -> str:
    """Control characters shown as ``\\xNN`` escapes (a file name cannot split a printed line)."""
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in text)


def plan_report(result: MakeResult, fmt: str, kernel: bool, show: int = 5) -> str:
    """Human-readable lines describing a dry run: counts, the first items and their output paths."""
    out = result.out or Path(".")
    lines = [
        f"{len(result.planned)} pair(s) planned, {result.skipped} already present, {result.todo} to make -> {out}"
    ]
    for it in result.planned[:show]:
        p = item_paths(it, fmt, kernel)
        src = f"{len(it.frames)} frames {it.frame_rels[0]}..{it.frame_rels[-1]}" if it.frames else it.rel
        lines.append(one_line(f"  {src} -> {out / p['blur']}, {out / p['sharp']}"))
    if len(result.planned) > show:
        lines.append(f"  ... and {len(result.planned) - show} more")
    return "\n".join(lines)


__all__ = [
    "BACKENDS",
    "LAYOUTS",
    "Item",
    "JobLock",
    "JobLocked",
    "MakeResult",
    "OutputError",
    "WorkerDied",
    "inside_out",
    "is_complete",
    "item_paths",
    "parse_shard",
    "plan_report",
    "run_job",
    "shard_of",
]
