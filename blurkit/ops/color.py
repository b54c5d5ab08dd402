"""Tone curves between display values and linear light (blur happens in linear light).

Responses: ``"srgb"`` (IEC 61966-2-1 piecewise curve), ``"gamma:G"`` (pure power law, e.g.
``"gamma:2.2"``), ``"linear"`` (no conversion: blur the display values, as DeblurGAN did).
"""

from __future__ import annotations

import torch


def parse_response(response: str) -> tuple[str, float]:
    """Validate a response name and return ``(kind, gamma)``.

    >>> parse_response("gamma:2.2")
    ('gamma', 2.2)
    """
    if response in ("srgb", "linear"):
        return response, 0.0
    if isinstance(response, str) and response.startswith("gamma:"):
        try:
            g = float(response.split(":", 1)[1])
        except ValueError:
            g = float("nan")
        if g > 0:
            return "gamma", g
    raise ValueError(f"response: expected 'srgb', 'linear' or 'gamma:G' with G > 0, got {response!r}")


def to_linear(x: torch.Tensor, response: str = "srgb") -> torch.Tensor:
    """Display values in [0, 1] → linear light."""
    kind, g = parse_response(response)
    if kind == "linear":
        return x
    x = x.clamp(0.0, 1.0)
    if kind == "gamma":
        return x.pow(g)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055).pow(2.4))


def from_linear(x: torch.Tensor, response: str = "srgb") -> torch.Tensor:
    """Linear light in [0, 1] → display values."""
    kind, g = parse_response(response)
    if kind == "linear":
        return x
    x = x.clamp(0.0, 1.0)
    if kind == "gamma":
        return x.pow(1.0 / g)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(0.0031308).pow(1.0 / 2.4) - 0.055)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """Rec. 709 luminance of linear RGB (B, 3, H, W) → (B, 1, H, W)."""
    w = torch.tensor([0.2126, 0.7152, 0.0722], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)
