"""Fixtures for the model tests: small image pairs made with blurkit's convolution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from blurkit.io import write_image
from blurkit.kernels import line_kernel
from blurkit.ops.convolve import convolve
from blurkit.tensors import to_image, to_tensor

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
VGG16_FILE = SHARED / "vgg" / "vgg16_imagenet_features_fp16.pth"
BSDS_VAL = SHARED / "bsds500" / "val"


def smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random natural-ish RGB image in [0, 1] (smoothed noise plus edges)."""
    base = rng.random((h // 4 + 2, w // 4 + 2, 3)).astype(np.float32)
    t = to_tensor(base)[None]
    up = torch.nn.functional.interpolate(t, size=(h, w), mode="bicubic", align_corners=False)[0]
    img = to_image(up)
    img[h // 3 : h // 2, :, :] += 0.4
    img[:, w // 2 : w // 2 + 3, 1] -= 0.5
    return np.clip(img, 0, 1).astype(np.float32)


def blur_np(img: np.ndarray, length: float = 7.0, angle: float = 20.0) -> np.ndarray:
    k = torch.from_numpy(line_kernel(length, angle).astype(np.float32))
    return to_image(convolve(to_tensor(img)[None], k, border="reflect")[0])


def randomize(module: torch.nn.Module, seed: int = 0, std: float = 0.1) -> torch.nn.Module:
    """Give every parameter random values (an untrained generator starts as the identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return module


def tiny_data(pairs: Path, crop: int = 16) -> dict[str, Any]:
    """``[data]`` of the tiny training configs: crops of ``pair_folder``, 3 batches of 2 per epoch."""
    return {
        "crop": crop,
        "margin": 4,
        "batch_size": 2,
        "num_workers": 0,
        "epoch_size": 6,
        "seed": 3,
        "sources": [{"kind": "pairs", "root": str(pairs)}],
    }


@pytest.fixture
def pair_folder(tmp_path: Path) -> Path:
    """A ``blur/`` + ``sharp/`` pair folder with 6 images of 48×40."""
    rng = np.random.default_rng(0)
    root = tmp_path / "pairs"
    for i in range(6):
        sharp = smooth_image(rng, 40, 48)
        write_image(root / "sharp" / f"{i:03d}.png", sharp)
        write_image(root / "blur" / f"{i:03d}.png", blur_np(sharp, 5 + i, 15.0 * i))
    return root
