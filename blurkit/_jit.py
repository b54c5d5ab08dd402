"""When blurkit's Numba kernels run compiled, and their plain-Python twins until then.

Compiling the kernels that one ``blurkit make`` pair needs costs about ten seconds of CPU, once: Numba
keeps the result in its cache (``__pycache__`` beside the sources, or ``NUMBA_CACHE_DIR``). A short
job must not pay that. So each kernel runs compiled when its compiled code is already in this process
or in the cache, or once the process has called it :data:`COMPILE_AFTER` times (the job is long
enough to pay for compiling); before that it runs as plain Python with the same results, bit for bit:

* per-trajectory kernels run their own source through CPython (:func:`pure`: the function's code
  with every Numba callee replaced by its plain twin);
* per-pixel kernels have a NumPy transcription beside them (see :mod:`blurkit.ops._chain_np`).

Both tiers compute with the same IEEE operations in the same order and call the same libm for
``exp``, ``log``, ``pow``, ``cos`` and ``sin``, so the results agree exactly (the tests check each
pair). ``BLURKIT_JIT=always`` compiles at once, ``BLURKIT_JIT=never`` never compiles.
"""

from __future__ import annotations

import functools
import os
import types
from collections.abc import Callable
from typing import Any

import numpy as np

#: Calls of a kernel made in plain Python before a process compiles it (when the cache lacks it).
COMPILE_AFTER = 8

_calls: dict[str, int] = {}
_ready: set[str] = set()


def mode() -> str:
    """``"auto"`` (the default), ``"always"`` or ``"never"``, from ``BLURKIT_JIT``."""
    value = os.environ.get("BLURKIT_JIT", "auto").strip().lower() or "auto"
    if value not in ("auto", "always", "never"):
        raise ValueError(f"BLURKIT_JIT: expected 'auto', 'always' or 'never', got {value!r}")
    return value


def _in_cache(dispatcher: Any) -> bool:
    """Whether Numba's cache holds code of ``dispatcher``'s current source for this machine (then
    calling it loads that code instead of compiling). Reads Numba's cache index; any doubt is a no."""
    try:
        index = dispatcher._cache._cache_file._load_index()
        magic = dispatcher.targetctx.codegen().magic_tuple()
        return any(key[1] == magic for key in index)
    except Exception:  # a private API that may change: then compile later, as without a cache
        return False


def use_compiled(*dispatchers: Any) -> bool:
    """Whether to call these kernels compiled now (see the module docstring); counts one call."""
    m = mode()
    if m != "auto":
        return m == "always"
    key = "|".join(d.py_func.__module__ + "." + d.py_func.__qualname__ for d in dispatchers)
    if key in _ready:
        return True
    if all(d.signatures or _in_cache(d) for d in dispatchers):
        _ready.add(key)
        return True
    _calls[key] = _calls.get(key, 0) + 1
    if _calls[key] > COMPILE_AFTER:
        _ready.add(key)
        return True
    return False


def _is_dispatcher(value: Any) -> bool:
    return hasattr(value, "py_func") and hasattr(value, "signatures")


class _PureModule:
    """A module seen through :func:`pure`: its Numba functions are their plain twins."""

    def __init__(self, module: types.ModuleType) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._module, name)
        return pure(value) if _is_dispatcher(value) else value


@functools.cache
def pure(dispatcher: Any) -> Callable[..., Any]:
    """The plain-Python twin of a Numba function: its source run by CPython, callees likewise.

    Call it under ``numpy.errstate(over="ignore")``: 64-bit integer arithmetic wraps around on
    purpose (as it does compiled).
    """
    f = dispatcher.py_func
    env = dict(f.__globals__)
    for name in f.__code__.co_names:
        value = f.__globals__.get(name)
        if _is_dispatcher(value):
            env[name] = pure(value)
        elif isinstance(value, types.ModuleType) and value.__name__.startswith("blurkit."):
            env[name] = _PureModule(value)
    return types.FunctionType(f.__code__, env, f.__name__, f.__defaults__, f.__closure__)


def call_pure(dispatcher: Any, *args: Any) -> Any:
    """Call the plain twin of ``dispatcher`` with wrapping integer arithmetic."""
    with np.errstate(over="ignore"):
        return pure(dispatcher)(*args)
