"""Where a job's pairs are made: in this process, in worker processes (joblib/loky) or on a Dask cluster.

Worker processes run one thread each for torch and numba (the pool provides the parallelism) and
exit as soon as the process that started the run is gone. A failure of one source fails its item
alone (:func:`safe_call`); a failure to write stops the run (:class:`blurkit.synth.job.OutputError`),
as does a worker that dies (:class:`blurkit.synth.job.WorkerDied`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from blurkit.io import ImageReadError
from blurkit.synth.job import Item, Job, OutputError, Result, WorkerDied
from blurkit.synth.lock import pid_alive
from blurkit.synth.options import JobOptions


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
            if os.getppid() != parent and not pid_alive(parent):
                os._exit(1)
            time.sleep(0.25)

    threading.Thread(target=watch, name="blurkit-parent-watchdog", daemon=True).start()


def run_chunk(
    fn: Callable[[Item], dict[str, Any]], items: Sequence[Item], parent: int | None = None
) -> list[Result]:
    """Run in a worker process: one thread each for torch and numba (the pool provides parallelism).

    ``parent``: the PID of the process that started the run; the worker exits when it dies.
    """
    import sys

    import numba

    if parent is not None:
        _watch_parent(parent)
    quiet_decoder_warnings()
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    else:  # the CPU chain runs without torch; if a pair needs it, it starts with one thread
        os.environ["OMP_NUM_THREADS"] = "1"
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


def execute(todo: Sequence[Item], job: Job, options: JobOptions, workers: int) -> Iterator[Result]:
    """Make the pairs of ``todo``, yielding ``(item, row, error)`` as they finish (any order).

    ``workers`` is the number of processes to use for the local backend (see :func:`effective_workers`).
    """
    from tqdm import tqdm

    bar = tqdm(total=len(todo), unit="pair", disable=not options.progress, file=sys.stderr, desc=job.desc)
    try:
        if job.local_iter is not None:
            results: Iterable[Result] = job.local_iter(todo)
        elif options.backend == "local" and workers == 1:
            results = in_threads(todo, job, min(ITEM_THREADS, available_cores()))
        else:
            results = _in_parallel(todo, job.fn, workers, options)
        for res in results:
            bar.update(1)
            yield res
    finally:
        bar.close()


#: Pairs one process makes at a time: while one pair's PNG is encoded (one core) the next is read
#: and blurred, so a single-process run keeps two cores busy.
ITEM_THREADS = 2


def in_threads(todo: Sequence[Item], job: Job, lanes: int) -> Iterator[Result]:
    """The results of ``safe_call(job.fn, item)`` for each item, yielded as they finish.

    With ``job.stages`` and ``lanes`` > 1 the sources are read here, on the calling thread (so
    :func:`blurkit.io.quiet_stderr` can silence the decoders), and up to ``lanes`` pairs are blurred
    and written by other threads meanwhile; a pair's bytes do not depend on which thread made it. An
    exception that stops the run (an :class:`OutputError`, Ctrl-C) lets the pairs in progress finish
    and starts no other. Without stages, items run one after the other.
    """
    if job.stages is None or lanes <= 1 or len(todo) <= 1:
        yield from (safe_call(job.fn, it) for it in todo)
        return
    import functools
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    load, finish = job.stages
    executor = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="blurkit-pair")
    pending: set[Future[Result]] = set()
    try:
        for it in todo:
            while len(pending) >= lanes:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
            _, loaded, err = safe_call(load, it)
            if err is not None:
                yield it, None, err
                continue
            pending.add(executor.submit(safe_call, functools.partial(_finish_loaded, finish, loaded), it))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (f.result() for f in done)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _finish_loaded(finish: Callable[[Item, Any], dict[str, Any]], loaded: Any, item: Item) -> dict[str, Any]:
    return finish(item, loaded)


def _in_parallel(
    todo: Sequence[Item], fn: Callable[[Item], dict[str, Any]], workers: int, options: JobOptions
) -> Iterator[Result]:
    """Chunks of ``todo`` on joblib's loky worker processes or its Dask backend."""
    from concurrent.futures.process import BrokenProcessPool

    import joblib
    from joblib.externals.loky.process_executor import BrokenProcessPool as LokyBroken

    if options.backend == "dask":
        from distributed import Client

        client = Client(options.scheduler) if options.scheduler else Client(processes=False)
        n_jobs = -1
        ctx = joblib.parallel_config(backend="dask")
    else:
        client = None
        n_jobs = workers
        ctx = joblib.parallel_config(backend="loky")
    size = max(1, min(8, len(todo) // (max(workers, 2) * 4) or 1))
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    parent = os.getpid() if options.backend == "local" else None
    try:
        with ctx:
            par = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered", pre_dispatch="2*n_jobs")
            for results in par(joblib.delayed(run_chunk)(fn, c, parent) for c in chunks):
                yield from results
    except (BrokenProcessPool, LokyBroken) as exc:
        raise _worker_death(exc) from None
    finally:
        if client is not None:
            client.close()


__all__ = [
    "ITEM_THREADS",
    "available_cores",
    "effective_workers",
    "execute",
    "in_threads",
    "quiet_decoder_warnings",
    "run_chunk",
    "safe_call",
]
