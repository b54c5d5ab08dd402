"""Classical baselines: registry, interface, and oracle deconvolution beats the blurred input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import BSDS_VAL, smooth_image

from blurkit.io import read_image
from blurkit.kernels import line_kernel
from blurkit.metrics import psnr
from blurkit.ops.convolve import convolve
from blurkit.tensors import to_tensor
from models import load_deblurrer
from models.base import available_deblurrers
from models.classical import gaussian_blur, richardson_lucy, unsharp_mask, wiener_deconvolve


def _sharp_batch() -> torch.Tensor:
    if BSDS_VAL.is_dir():
        imgs = [read_image(p)[:160, :200] for p in sorted(BSDS_VAL.glob("*.jpg"))[:2]]
    else:
        rng = np.random.default_rng(0)
        imgs = [smooth_image(rng, 160, 200) for _ in range(2)]
    return torch.stack([to_tensor(i) for i in imgs])


def _blurred(sharp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    k = torch.stack([torch.from_numpy(line_kernel(13, a, size=15).astype(np.float32)) for a in (10.0, 75.0)])
    b = convolve(sharp, k, border="reflect")
    return (b * 255).round() / 255, k  # 8-bit, as stored


def test_registered_names() -> None:
    names = available_deblurrers()
    assert {"identity", "unsharp", "wiener", "richardson_lucy"} <= set(names)
    assert load_deblurrer("wiener").needs_kernel and load_deblurrer("richardson_lucy").needs_kernel
    assert not load_deblurrer("unsharp").needs_kernel


@pytest.mark.parametrize("name", ["wiener", "richardson_lucy"])
def test_oracle_deconvolution_raises_psnr(name: str) -> None:
    sharp = _sharp_batch()
    blurred, k = _blurred(sharp)
    restored = load_deblurrer(name)(blurred, k)
    assert restored.shape == sharp.shape and 0 <= float(restored.min()) and float(restored.max()) <= 1
    gain = psnr(restored, sharp) - psnr(blurred, sharp)
    assert bool((gain > 1.0).all()), gain


def test_non_blind_needs_kernels() -> None:
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match="kernels"):
        load_deblurrer("wiener")(x)
    with pytest.raises(ValueError, match="odd"):
        wiener_deconvolve(x, torch.ones(2, 4, 4) / 16)
    with pytest.raises(ValueError, match="iterations"):
        richardson_lucy(x, torch.ones(3, 3) / 9, iterations=0)


def test_delta_kernel_is_identity() -> None:
    x = torch.rand(2, 3, 20, 24)
    delta = torch.zeros(5, 5)
    delta[2, 2] = 1
    torch.testing.assert_close(wiener_deconvolve(x, delta, nsr=1e-6), x, atol=1e-4, rtol=0)
    torch.testing.assert_close(
        richardson_lucy(x.clamp_min(0.01), delta, 5), x.clamp_min(0.01), atol=1e-4, rtol=0
    )


def test_unsharp_sharpens_and_flat_is_fixed() -> None:
    flat = torch.full((1, 3, 16, 16), 0.4)
    torch.testing.assert_close(unsharp_mask(flat), flat)
    sharp = _sharp_batch()
    blurred = gaussian_blur(sharp, 1.5)
    assert float((unsharp_mask(blurred) - blurred).abs().mean()) > 0.002
