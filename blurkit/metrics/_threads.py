"""The thread pool shared by the CPU kernels (OpenCV, SciPy and the ``nogil`` Numba loops release the GIL).

Numba's own ``parallel=True`` loops synchronise all threads at every loop and slow down badly on a
busy machine, so the CPU code parallelises coarse, independent pieces of work (row blocks, frames)
over this pool instead.
"""

from __future__ import annotations

import os
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
        _POOL = ThreadPoolExecutor(max_workers=usable_cpus(), thread_name_prefix="blurkit-metrics")
    return _POOL
