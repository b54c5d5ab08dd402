"""Applying recorded degradations: the arithmetic of each chain version.

The steps are those of :mod:`blurkit.ops.degrade`; a *chain version* fixes how they are computed, so
that a record regenerates the same bytes for as long as blurkit knows its version. A record (and a
saved config) without a ``chain`` field is chain 1.

* **Chain 1** (blurkit 0.1): torch float32 tone curves, the boost and blend in torch, the blur of
  :func:`blurkit.ops.convolve.convolve_chain1`, noise from :func:`blurkit.ops.noise.poisson_gaussian`
  (torch's generator). Kept unchanged so that older pair folders regenerate bit for bit.
* **Chain 2** (the default): tone curves evaluated in float64 and rounded once to float32 (8-bit
  levels through a 256-entry table). On the CPU, image by image without torch
  (:mod:`blurkit.ops.cpu_chain`): two compiled passes around the blur (linear light + boost; clip +
  noise + display values, optionally rounded to 8 bits in the same pass) with noise from a
  counter-based generator, and each image blurred with its own kernel
  (:func:`blurkit.ops._blur_np.blur_planes`), so its bytes depend on its record and pixels alone,
  whatever the batch and the thread count. On a GPU the same steps run in torch (noise from torch's
  generator, as in chain 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import torch

from blurkit.ops.color import from_linear, to_linear
from blurkit.ops.convolve import BorderMode, convolve, convolve_chain1
from blurkit.ops.highlights import boost_highlights, local_mask
from blurkit.ops.jpeg import jpeg_round_trip
from blurkit.ops.noise import poisson_gaussian

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
    """Chain 2 on a float32 (B, 3, H, W) batch of display values: on the CPU image by image
    (:func:`blurkit.ops.cpu_chain.degrade_planes`), on a GPU in torch (see the module docstring)."""
    if x.device.type != "cpu":
        return _chain2_torch(x, kernels, records, border, response)
    from blurkit.ops.cpu_chain import degrade_planes

    kern = np.asarray(kernels.detach().cpu().numpy() if isinstance(kernels, torch.Tensor) else kernels, dtype=np.float32)
    kern = kern if kern.ndim == 3 else np.broadcast_to(kern, (len(records), *kern.shape))
    return torch.from_numpy(np.stack([
        degrade_planes(xi.detach().numpy(), ki, r) for xi, ki, r in zip(x, kern, records, strict=True)
    ]))


def _chain2_torch(x: torch.Tensor, kernels: torch.Tensor | np.ndarray, records: Records, border: str, response: str) -> torch.Tensor:
    """Chain 2 in torch (GPU): float64 tone curves rounded once, torch's generator for the noise."""
    lin = boost_highlights(to_linear(x.double(), response).float().double(), records).float()
    y = _blend_local(_convolve(lin, kernels, border), lin, records).clamp(0.0, 1.0)
    return _jpeg(from_linear(_torch_noise(y, records).double(), response).float(), records)


__all__ = ["apply_chain1", "apply_chain2"]
