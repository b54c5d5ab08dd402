"""Where the chain changes a scene region: highlight boost (step 2) and the mask of a local blur (step 3)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from blurkit.ops.color import luminance


def boost_highlights(x: torch.Tensor, records: Sequence[Mapping[str, Any]]) -> torch.Tensor:
    """Step 2 of the chain on a linear (B, 3, H, W) batch: raise highlights by each record's ``boost``.

    ``clipped`` records (the default) scale only channels at or above the threshold, so that
    ``boost_highlights(x).clamp(0, 1)`` is ``x`` again up to ``1 - threshold``; ``ramp`` records (and
    records written before the field existed) scale whole pixels by a luminance ramp.

    >>> x = torch.tensor([0.5, 0.99, 1.0]).view(1, 3, 1, 1)
    >>> boost_highlights(x, [{"boost": 4.0, "highlight": "clipped", "highlight_threshold": 0.995}]).flatten()
    tensor([0.5000, 0.9900, 4.0000])
    """
    boosts = [float(r["boost"]) for r in records]
    if all(b <= 1.0 for b in boosts):
        return x
    gain = torch.tensor(boosts, device=x.device, dtype=x.dtype).view(-1, 1, 1, 1) - 1.0
    thr = torch.tensor([float(r["highlight_threshold"]) for r in records], device=x.device, dtype=x.dtype)
    thr = thr.view(-1, 1, 1, 1)
    clipped = torch.tensor(
        [r.get("highlight", "ramp") == "clipped" for r in records], device=x.device
    ).view(-1, 1, 1, 1)
    ramp = ((luminance(x) - thr) / (1.0 - thr)).clamp(0.0, 1.0)
    mask = torch.where(clipped, (x >= thr).to(x.dtype), ramp)
    return x * (1.0 + gain * mask)


def local_mask(seed: int, height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The region a ``local`` blur covers: a soft-edged random ellipse, (H, W) in [0, 1].

    Centre anywhere in the image, semi-axes 15–50 % of the image's sides, any orientation, an edge
    that fades over about 4 % of the smaller side. A pure function of ``seed`` and the size.

    >>> m = local_mask(3, 40, 60)
    >>> m.shape, 0.0 <= float(m.min()) < float(m.max()) <= 1.0
    (torch.Size([40, 60]), True)
    """
    rng = np.random.default_rng(int(seed))
    cy, cx = rng.random() * height, rng.random() * width
    ay, ax = (0.15 + 0.35 * rng.random()) * height, (0.15 + 0.35 * rng.random()) * width
    theta = math.pi * rng.random()
    soft = max(1.0, 0.04 * min(height, width))
    yy = torch.arange(height, device=device, dtype=torch.float32).view(-1, 1) - cy
    xx = torch.arange(width, device=device, dtype=torch.float32).view(1, -1) - cx
    u = xx * math.cos(theta) + yy * math.sin(theta)
    v = -xx * math.sin(theta) + yy * math.cos(theta)
    r = torch.sqrt((u / ax) ** 2 + (v / ay) ** 2)  # 1 on the ellipse
    return ((1.0 - r) * min(ax, ay) / soft + 0.5).clamp(0.0, 1.0)
