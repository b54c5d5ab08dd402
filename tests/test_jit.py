"""When the compiled kernels run (blurkit._jit): from the cache, after a few calls, or as forced."""

import numpy as np
import pytest

from blurkit import _jit


class _Fake:
    """Stands in for a Numba dispatcher with no compiled code and no cache entry."""

    def __init__(self, name):
        def f(x):
            return x + 1

        f.__qualname__ = name
        self.py_func = f
        self.signatures = []


def test_compiles_after_a_few_calls_unless_cached(monkeypatch):
    monkeypatch.delenv("BLURKIT_JIT", raising=False)
    fake = _Fake("never_compiled_kernel")
    answers = [_jit.use_compiled(fake) for _ in range(_jit.COMPILE_AFTER + 2)]
    assert answers == [False] * _jit.COMPILE_AFTER + [True, True]
    fake.signatures = ["compiled"]
    assert _jit.use_compiled(_Fake("other")) is False
    assert _jit.use_compiled(fake) is True


def test_forced_tiers_and_bad_values(monkeypatch):
    fake = _Fake("forced_kernel")
    monkeypatch.setenv("BLURKIT_JIT", "always")
    assert _jit.use_compiled(fake)
    monkeypatch.setenv("BLURKIT_JIT", "never")
    assert not _jit.use_compiled(fake)
    monkeypatch.setenv("BLURKIT_JIT", "sometimes")
    with pytest.raises(ValueError, match="BLURKIT_JIT"):
        _jit.use_compiled(fake)


def test_cached_code_counts_as_compiled(monkeypatch):
    """A kernel whose code sits in Numba's cache runs compiled at once (loading costs little)."""
    from blurkit.kernels import _shake
    from blurkit.kernels.trajectory import stream_seeds

    monkeypatch.setenv("BLURKIT_JIT", "always")
    stream_seeds(0, 3)  # compiles _seeds (or loads it), which writes the cache
    assert _jit._in_cache(_shake._seeds) or _shake._seeds.signatures


def test_pure_twins_run_the_same_source():
    from blurkit.kernels import _prng

    with np.errstate(over="ignore"):
        state = _jit.pure(_prng.new_state)(np.uint64(5))
    assert np.array_equal(state, _prng.new_state(np.uint64(5)))
    assert _jit.call_pure(_prng.stream_seed, np.uint64(3), np.uint64(4)) == _prng.stream_seed(np.uint64(3), np.uint64(4))
