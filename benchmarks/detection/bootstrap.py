"""Percentile bootstrap confidence intervals over images, from a seeded generator."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.detection.matching import prf

__all__ = ["bootstrap_f1_diff_ci", "bootstrap_indices", "bootstrap_prf_ci"]


def bootstrap_indices(n_items: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n_items)`` indices resampled with replacement from a seeded generator."""
    if n_items < 1:
        raise ValueError(f"n_items: need at least one item to resample, got {n_items}")
    if n_boot < 1:
        raise ValueError(f"n_boot: must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_items, size=(n_boot, n_items))


def bootstrap_prf_ci(
    counts: Any, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap CIs over images of micro-averaged precision, recall and F1.

    Args:
        counts: ``(n_images, 3)`` array of per-image ``tp, fp, fn``.
        n_boot: number of resamples.
        seed: seed of the resampling generator.
        level: coverage of the interval.

    Returns:
        ``{"precision": (lo, hi), "recall": (lo, hi), "f1": (lo, hi)}``.
    """
    c = _as_counts(counts)
    idx = bootstrap_indices(len(c), n_boot, seed)
    sums = c[idx].sum(axis=1)  # (n_boot, 3)
    p, r, f = prf(sums[:, 0], sums[:, 1], sums[:, 2])
    return {name: _percentiles(v, level) for name, v in (("precision", p), ("recall", r), ("f1", f))}


def bootstrap_f1_diff_ci(
    counts_a: Any, counts_b: Any, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Paired percentile bootstrap CI of F1(a) − F1(b), the same images resampled for both."""
    a, b = _as_counts(counts_a), _as_counts(counts_b)
    if a.shape != b.shape:
        raise ValueError(f"paired counts must cover the same images: {a.shape} vs {b.shape}")
    idx = bootstrap_indices(len(a), n_boot, seed)
    sa, sb = a[idx].sum(axis=1), b[idx].sum(axis=1)
    fa = prf(sa[:, 0], sa[:, 1], sa[:, 2])[2]
    fb = prf(sb[:, 0], sb[:, 1], sb[:, 2])[2]
    return _percentiles(fa - fb, level)


def _as_counts(counts: Any) -> np.ndarray:
    c = np.asarray(counts, dtype=np.int64)
    if c.ndim != 2 or c.shape[1] != 3:
        raise ValueError(f"counts: expected an (n_images, 3) array of tp, fp, fn, got shape {c.shape}")
    return c


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: must be in (0, 1), got {level}")
    lo, hi = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)
