"""Applying recorded degradations: the arithmetic of each chain version.

The steps are those of :mod:`blurkit.ops.degrade`; a *chain version* fixes how they are computed, so
that a record regenerates the same bytes for as long as blurkit knows its version. A record (and a
saved config) without a ``chain`` field is chain 1.

* **Chain 1** (blurkit 0.1): torch float32 tone curves, the boost and blend in torch, the blur of
  :func:`blurkit.ops.convolve.convolve_chain1`, noise from :func:`blurkit.ops.noise.poisson_gaussian`
  (torch's generator). Kept unchanged so that older pair folders regenerate bit for bit.
* **Chain 2** (the default): tone curves evaluated in float64 and rounded once to float32 (8-bit
  levels through a 256-entry table); on the CPU, two compiled passes around the blur (linear light +
  boost; clip + noise + display values, optionally rounded to 8 bits in the same pass) with noise from
  a counter-based generator (:mod:`blurkit.ops._chain_cpu`): the bytes depend on the record alone,
  whatever the thread count. On a GPU the same steps run in torch (noise from torch's generator, as
  in chain 1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np
import torch

from blurkit.ops.color import (
    KIND_CODES,
    display_thresholds,
    from_linear,
    grid_levels,
    linear_table,
    parse_response,
    to_linear,
)
from blurkit.ops.convolve import BorderMode, convolve, convolve_chain1
from blurkit.ops.highlights import boost_highlights, local_mask
from blurkit.ops.jpeg import jpeg_round_trip, jpeg_round_trip8
from blurkit.ops.noise import EXACT_POISSON_BELOW, poisson_gaussian, poisson_tables

#: Chain versions this blurkit applies; :data:`CHAIN_VERSION` is what new records get.
CHAINS = (1, 2)
CHAIN_VERSION = 2

#: Rows per block of the compiled passes (the cut does not change the result).
ROWS_PER_BLOCK = 32

Records = Sequence[Mapping[str, Any]]


def _blend_local(blurred: torch.Tensor, x: torch.Tensor, records: Records) -> torch.Tensor:
    """Step 3's local option: outside each ``local`` record's region the scene stays sharp."""
    if not any(r.get("local") for r in records):
        return blurred
    masks = torch.stack([
        local_mask(int(r["local_seed"]), x.shape[-2], x.shape[-1], x.device) if r.get("local")
        else torch.ones(x.shape[-2:], device=x.device)
        for r in records
    ])[:, None]
    return masks * blurred + (1.0 - masks) * x


def _convolve(x: torch.Tensor, kernels: torch.Tensor | np.ndarray, border: str) -> torch.Tensor:
    return convolve(x, kernels, border=cast(BorderMode, border))


def _torch_noise(y: torch.Tensor, records: Records) -> torch.Tensor:
    """Step 5 with torch's generator seeded by each record's ``noise_seed`` (chain 1; chain 2 on GPU)."""
    noisy = []
    for i, r in enumerate(records):
        yi = y[i]
        if r["shot"] > 0 or r["read"] > 0:
            g = torch.Generator(device=y.device)
            g.manual_seed(int(r["noise_seed"]))
            yi = poisson_gaussian(yi, float(r["shot"]), float(r["read"]), g).clamp(0.0, 1.0)
        noisy.append(yi)
    return torch.stack(noisy)


def _jpeg(out: torch.Tensor, records: Records) -> torch.Tensor:
    if any(r.get("jpeg_quality") is not None for r in records):
        return jpeg_round_trip(out, [r.get("jpeg_quality") for r in records])
    return out


def apply_chain1(x: torch.Tensor, kernels: torch.Tensor | np.ndarray, records: Records, border: str, response: str) -> torch.Tensor:
    """Chain 1 on a float32 (B, 3, H, W) batch of display values (see the module docstring)."""
    lin = boost_highlights(to_linear(x, response), records)
    cpu = x.device.type == "cpu"
    blurred = convolve_chain1(lin, kernels, border) if cpu else _convolve(lin, kernels, border)
    y = _blend_local(blurred, lin, records).clamp(0.0, 1.0)
    return _jpeg(from_linear(_torch_noise(y, records), response), records)


def apply_chain2(x: torch.Tensor, kernels: torch.Tensor | np.ndarray, records: Records, border: str, response: str) -> torch.Tensor:
    """Chain 2 on a float32 (B, 3, H, W) batch of display values (see the module docstring)."""
    if x.device.type != "cpu":
        return _chain2_torch(x, kernels, records, border, response)
    lin = torch.from_numpy(np.stack([_linearise(xi.detach().contiguous().numpy(), None, r, response)
                                     for xi, r in zip(x, records, strict=True)]))
    y = _blend_local(_convolve(lin, kernels, border), lin, records)
    out = np.stack([_finish(yi.contiguous().numpy(), r, response, None) for yi, r in zip(y, records, strict=True)])
    return _jpeg(torch.from_numpy(out), records)


def degrade_image8(image: np.ndarray, kernel: np.ndarray, record: Mapping[str, Any]) -> np.ndarray:
    """Chain 2 on one 8-bit (H, W, 3) RGB image, on the CPU, straight to 8-bit output.

    The same bytes as ``blurkit.io.to_uint`` of :func:`blurkit.ops.apply_degradation` on
    ``image / 255`` with the same record, without the float copies on either side.

    >>> from blurkit.ops import PRESETS, sample_degradation
    >>> d = sample_degradation(1, PRESETS["realistic"])
    >>> degrade_image8(np.full((80, 80, 3), 90, np.uint8), d.kernel, d.record).dtype
    dtype('uint8')
    """
    img = np.ascontiguousarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image: expected an (H, W, 3) uint8 array, got {img.dtype} {img.shape}")
    if int(record.get("chain", 1)) != 2:
        raise ValueError(f"record: degrade_image8 applies chain 2, got a chain {record.get('chain', 1)} record")
    response, border = str(record["response"]), str(record["border"])
    lin = torch.from_numpy(_linearise(None, img, record, response))[None]
    y = _blend_local(_convolve(lin, np.asarray(kernel, dtype=np.float32)[None], border), lin, [record])
    out = _finish(y[0].contiguous().numpy(), record, response, np.empty(img.shape, dtype=np.uint8))
    q = record.get("jpeg_quality")
    return out if q is None else jpeg_round_trip8(out, int(q))


def _response_args(response: str) -> tuple[int, float]:
    kind, g = parse_response(response)
    return KIND_CODES[kind], g


def _boost_args(record: Mapping[str, Any]) -> tuple[float, float, bool]:
    boost = float(record["boost"])
    gain = boost - 1.0 if boost > 1.0 else 0.0
    return gain, float(record["highlight_threshold"]), record.get("highlight", "ramp") != "clipped"


def _rows(name: str, height: int, args: Callable[[int, int], tuple[Any, ...]]) -> None:
    """Run the compiled kernel ``name`` over blocks of rows on the thread pool, or its NumPy twin over
    all rows at once while compiling is not worth it yet (:mod:`blurkit._jit`)."""
    from blurkit import _jit
    from blurkit._threads import run_blocks
    from blurkit.ops import _chain_cpu

    kernel = getattr(_chain_cpu, name)
    if _jit.use_compiled(kernel):
        run_blocks(lambda r0, r1: kernel(*args(r0, r1)), height, ROWS_PER_BLOCK, torch.get_num_threads())
    else:
        from blurkit.ops import _chain_np

        getattr(_chain_np, name)(*args(0, height))


def _linearise(
    src: np.ndarray | None, src8: np.ndarray | None, record: Mapping[str, Any], response: str
) -> np.ndarray:
    """Linear light + boost of one image: float32 (3, H, W) ``src`` or uint8 (H, W, 3) ``src8``."""
    h, w = (src8.shape[:2] if src8 is not None else src.shape[1:])  # type: ignore[union-attr]
    f = np.empty((1, 1, 1), dtype=np.float32) if src is None else src
    b = np.empty((1, 1, 1), dtype=np.uint8) if src8 is None else src8
    out = np.empty((3, h, w), dtype=np.float32)
    kind, g = _response_args(response)
    gain, thr, ramp = _boost_args(record)
    table, grid = linear_table(response), grid_levels()
    _rows("linearise_rows", h, lambda r0, r1: (f, b, src8 is not None, table, grid, kind, g, gain, thr, ramp, out, r0, r1))
    return out


def _finish(blurred: np.ndarray, record: Mapping[str, Any], response: str, out8: np.ndarray | None) -> np.ndarray:
    """Clip, noise and display values of one blurred (3, H, W) float32 image (into ``out8`` if given)."""
    h = blurred.shape[1]
    out = np.empty(blurred.shape if out8 is None else (1, 1, 1), dtype=np.float32)
    o8 = np.empty((1, 1, 1), dtype=np.uint8) if out8 is None else out8
    kind, g = _response_args(response)
    shot, read = float(record["shot"]), float(record["read"])
    cdf, guide = poisson_tables()
    thr, base = display_thresholds(response)
    tol = 1e-6 * max(1.0, g)
    seed = int(record["noise_seed"])
    _rows("finish_rows", h, lambda r0, r1: (
        blurred, out, o8, out8 is not None, seed, shot, read, float(EXACT_POISSON_BELOW), cdf, guide,
        kind, g, thr, base, tol, r0, r1,
    ))
    return out if out8 is None else o8


def _chain2_torch(x: torch.Tensor, kernels: torch.Tensor | np.ndarray, records: Records, border: str, response: str) -> torch.Tensor:
    """Chain 2 in torch (GPU): float64 tone curves rounded once, torch's generator for the noise."""
    lin = boost_highlights(to_linear(x.double(), response).float().double(), records).float()
    y = _blend_local(_convolve(lin, kernels, border), lin, records).clamp(0.0, 1.0)
    return _jpeg(from_linear(_torch_noise(y, records).double(), response).float(), records)


__all__ = ["CHAINS", "CHAIN_VERSION", "apply_chain1", "apply_chain2", "degrade_image8"]
