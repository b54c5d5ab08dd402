"""Parameters of the camera-shake model, and the ``(low, high)`` range parser every config uses.

The shake fields (``samples``, ``length``, ``anxiety``, ``centripetal``, ``big_shake``,
``gaussian_shake``, ``exposure``) are defined once, in :class:`ShakeFields`; both
:class:`TrajectoryParams` and :class:`blurkit.ops.DegradeConfig` are built on it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from blurkit.kernels.psf import exposure_samples

Range = tuple[float, float]


def as_range(name: str, value: Any, lo: float = 0.0, hi: float = math.inf) -> Range:
    """A number or a ``(low, high)`` pair as a validated float pair within ``[lo, hi]``.

    >>> as_range("length", 10), as_range("length", (5, 20))
    ((10.0, 10.0), (5.0, 20.0))
    """
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected a number or a (low, high) pair, got {value!r}")
    pair = (value, value) if np.isscalar(value) or np.ndim(value) == 0 else value
    try:
        a, b = pair
        out = (float(a), float(b))
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number or a (low, high) pair, got {value!r}") from None
    if not (math.isfinite(out[0]) and math.isfinite(out[1])):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    if out[0] > out[1]:
        raise ValueError(f"{name}: low {out[0]} is greater than high {out[1]}")
    if out[0] < lo or out[1] > hi:
        raise ValueError(f"{name}: must lie in [{lo}, {hi}], got {value!r}")
    return out


@dataclass(frozen=True)
class ShakeFields:
    """The fields of the camera-shake model; each range is a value or a ``(low, high)`` uniform range.

    Attributes:
        samples: number of positions T (DeblurGAN: 2000).
        length: total path length in pixels (DeblurGAN: 60).
        anxiety: ``expl``, the amount of shake (DeblurGAN draws it from 0.003..0.01); 0 gives a line.
        centripetal: pull towards the start (DeblurGAN: 0.7·U).
        big_shake: probability scale of impulsive shakes (DeblurGAN: 0.2·U).
        gaussian_shake: strength of the Gaussian velocity noise (DeblurGAN: 10·U).
        exposure: exposure fractions to choose from uniformly; the PSF integrates the first ``f·T``
            samples (DeblurGAN computes 1/100, 1/10, 1/2 and 1).
    """

    samples: int = 2000
    length: Range = (60.0, 60.0)
    anxiety: Range = (0.003, 0.01)
    centripetal: Range = (0.0, 0.7)
    big_shake: Range = (0.0, 0.2)
    gaussian_shake: Range = (0.0, 10.0)
    exposure: tuple[float, ...] = (1.0,)

    def _check_shake(self) -> None:
        """Validate the shake fields and store them normalised (ints, float pairs, a tuple)."""
        if isinstance(self.samples, bool) or int(self.samples) != self.samples or not 2 <= self.samples <= 10**6:
            raise ValueError(f"samples: must be an integer in [2, 1000000], got {self.samples!r}")
        object.__setattr__(self, "samples", int(self.samples))
        object.__setattr__(self, "length", as_range("length", self.length, 0.0, 10_000.0))
        object.__setattr__(self, "anxiety", as_range("anxiety", self.anxiety, 0.0, 1.0))
        object.__setattr__(self, "centripetal", as_range("centripetal", self.centripetal, 0.0, 100.0))
        object.__setattr__(self, "big_shake", as_range("big_shake", self.big_shake, 0.0, 1.0))
        object.__setattr__(self, "gaussian_shake", as_range("gaussian_shake", self.gaussian_shake, 0.0, 1e4))
        exp = self.exposure
        fractions = (float(exp),) if np.isscalar(exp) else tuple(float(f) for f in exp)  # type: ignore[arg-type]
        if not fractions:
            raise ValueError("exposure: at least one fraction is required")
        for f in fractions:
            exposure_samples(self.samples, f)  # validates (0, 1]
        object.__setattr__(self, "exposure", fractions)

    def shake_dict(self) -> dict[str, Any]:
        """The shake fields alone, by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(ShakeFields)}


@dataclass(frozen=True)
class TrajectoryParams(ShakeFields):
    """Parameters of the camera-shake model (the fields of :class:`ShakeFields`).

    >>> TrajectoryParams(length=(10, 40)).length
    (10.0, 40.0)
    """

    def __post_init__(self) -> None:
        self._check_shake()

    def replace(self, **changes: object) -> TrajectoryParams:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def _packed(self) -> np.ndarray:
        return np.array(
            [*self.length, *self.anxiety, *self.centripetal, *self.big_shake, *self.gaussian_shake],
            dtype=np.float64,
        )
