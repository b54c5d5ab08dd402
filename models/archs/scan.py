"""A first-order linear recurrence along one axis, as a log-depth parallel scan and as a loop.

``h_t = a_t · h_{t-1} + b_t`` with ``h_{-1} = 0``: the recurrence behind the spatially variant RNN's
sweeps (:mod:`models.archs.svrnn`). Two implementations agree to float rounding: :func:`linear_scan`
(default), a Hillis–Steele parallel prefix scan of the affine maps ``h ↦ a·h + b`` (``ceil(log2 L)``
vectorised steps, plain torch ops, so autograd gives its gradient), and :func:`linear_scan_loop`, the
sequential reference (a Python loop over the scan axis only).

ONNX: the scan exports (Pad, Slice, Mul, Add); an exported graph runs a fixed number of steps
(:data:`EXPORT_SCAN_STEPS`), enough for sequences up to ``2**EXPORT_SCAN_STEPS`` positions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

#: Scan steps of an exported graph (sequences up to 2**14 positions at 1/4 or 1/2 resolution).
EXPORT_SCAN_STEPS = 14

Scan = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def _check_scan_args(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"a/b: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")
    if a.ndim < 1:
        raise ValueError("a/b: need at least one dimension (the scan axis)")


def linear_scan(a: torch.Tensor, b: torch.Tensor, dim: int = -1, steps: int | None = None) -> torch.Tensor:
    """``h_t = a_t · h_{t-1} + b_t`` along ``dim`` with ``h_{-1} = 0``, as a log-depth parallel scan.

    Hillis–Steele inclusive scan of the affine maps ``h ↦ a·h + b``: after the step with shift ``d``,
    position ``t`` holds the composition of the maps ``t-2d+1 … t``. ``ceil(log2 L)`` steps of
    elementwise work, all other axes vectorised; differentiable by autograd.

    Args:
        a, b: tensors of one shape; the recurrence runs along ``dim``.
        dim: the scan axis.
        steps: number of doubling steps (default ``ceil(log2 L)``; more steps are harmless, which lets
            a traced graph with a fixed count handle any length up to ``2**steps``).

    >>> linear_scan(torch.tensor([0.5, 0.5, 0.5]), torch.tensor([1.0, 1.0, 1.0])).tolist()
    [1.0, 1.5, 1.75]
    """
    _check_scan_args(a, b)
    last = a.ndim - 1
    dim = dim % a.ndim  # non-negative axes only: ONNX Transpose refuses negative permutations
    if dim != last:
        a, b = a.transpose(dim, last), b.transpose(dim, last)
    length = a.shape[-1]
    if steps is None:
        steps = max(0, math.ceil(math.log2(length))) if length > 1 else 0
    shift = 1
    for _ in range(steps):
        # compose with the map ``shift`` positions earlier (identity map before the start)
        a_prev = F.pad(a, (shift, 0), value=1.0)[..., :length]
        b_prev = F.pad(b, (shift, 0), value=0.0)[..., :length]
        b = a * b_prev + b
        a = a * a_prev
        shift *= 2
    return b if dim == last else b.transpose(dim, last)


def linear_scan_loop(a: torch.Tensor, b: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Reference for :func:`linear_scan`: a sequential loop over the scan axis (only that axis)."""
    _check_scan_args(a, b)
    a, b = a.movedim(dim, 0), b.movedim(dim, 0)
    h = torch.zeros_like(b[0])
    out = []
    for t in range(a.shape[0]):
        h = a[t] * h + b[t]
        out.append(h)
    return torch.stack(out).movedim(0, dim)
