"""The thread pool shared by the CPU kernels (OpenCV, SciPy and the ``nogil`` Numba loops release the GIL).

Numba's own ``parallel=True`` loops synchronise all threads at every loop and slow down badly on a
busy machine, so the CPU code parallelises coarse, independent pieces of work (row blocks, frames)
over this pool instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

_POOL: ThreadPoolExecutor | None = None


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pool() -> ThreadPoolExecutor:
    """The process-wide pool, one worker per usable CPU, created on first use."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=usable_cpus(), thread_name_prefix="blurkit")
    return _POOL


def run_blocks(fn: Callable[[int, int], object], stop: int, block: int, threads: int) -> None:
    """Call ``fn(start, end)`` on consecutive blocks of ``range(stop)``, spread over up to ``threads``
    threads of the pool (inline when one suffices). Results must not depend on the cut: each call
    writes its own block."""
    bounds = [(a, min(stop, a + block)) for a in range(0, stop, block)]
    lanes = max(1, min(threads, len(bounds), usable_cpus()))
    if lanes == 1:
        for a, b in bounds:
            fn(a, b)
        return

    def lane(t: int) -> None:
        for a, b in bounds[t::lanes]:
            fn(a, b)

    list(pool().map(lane, range(lanes)))
