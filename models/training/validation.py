"""Validation of a run: fixed centre crops, PSNR / SSIM of the generator on them, sample grids.

The crops are chosen once per run (``[val]``: ``count`` images spread over the folder, ``size``
pixels, centre crops): pairs from a pair folder, or sharp images blurred on the fly with fixed
seeds. Every ``val_every`` steps (and at the end) rank 0 appends PSNR ``rgb`` and SSIM ``skimage``
of the restored and of the blurred crops to ``val.csv`` and writes ``samples/step_NNNNNNN.png``
(one row per image: blurred | restored | sharp).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from blurkit.io import list_images, read_image, write_image
from blurkit.tensors import to_image, to_tensor
from models.data import draw_seed, find_pairs
from models.training.config import TrainConfig, ValConfig
from models.training.logs import VAL_FIELDS, VAL_FILE, append_row


class Validation:
    """The fixed validation crops of a run and the files validating on them writes."""

    def __init__(self, blurred: torch.Tensor, sharp: torch.Tensor, out_dir: Path, grid_rows: int) -> None:
        self.blurred, self.sharp, self.out_dir, self.grid_rows = blurred, sharp, out_dir, grid_rows

    def run(self, generator: nn.Module, step: int) -> str:
        """Score ``generator`` after ``step`` steps, append to ``val.csv``, write the sample grid;
        returns a line to print."""
        metrics, restored = validate(generator, self.blurred, self.sharp)
        append_row(self.out_dir / VAL_FILE, VAL_FIELDS, {"step": step, **{k: f"{v:.4f}" for k, v in metrics.items()}})
        write_grid(self.out_dir / "samples" / f"step_{step:07d}.png", self.blurred, restored, self.sharp, self.grid_rows)
        return (
            f"step {step}: val PSNR {metrics['psnr']:.2f} dB (blurred {metrics['psnr_blurred']:.2f}), "
            f"SSIM {metrics['ssim']:.4f}"
        )


def prepare_validation(
    config: TrainConfig, data_root: Path | None, device: torch.device, out_dir: Path
) -> Validation | None:
    """The run's :class:`Validation`, or None when the config has no ``[val]`` root."""
    val = config.val
    if val is None or not val.root:
        return None
    blurred, sharp = build_validation(val, data_root, config.data.blur_preset, device, config.data.blur)
    return Validation(blurred, sharp, out_dir, val.grid_rows)


def _load_crop(path: Path, size: int) -> torch.Tensor:
    return _centre_crop(to_tensor(read_image(path)), size)


def _centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    if h < size or w < size:
        pad_h, pad_w = max(0, size - h), max(0, size - w)
        x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top : top + size, left : left + size]


def build_validation(
    val: ValConfig, data_root: Path | None, preset: str, device: torch.device,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed validation crops (blurred, sharp) on ``device``; on-the-fly ones blurred with fixed seeds."""
    root = Path(val.root)
    if data_root is not None and not root.is_absolute():
        root = data_root / root
    if val.kind == "on_the_fly":
        sharp_paths = list_images(root)
        blur_paths: list[Path | None] = [None] * len(sharp_paths)
    else:
        bp, sharp_paths = find_pairs(root, val.kind)
        blur_paths = list(bp)
    if not sharp_paths:
        raise ValueError(f"{root}: no validation images")
    n = min(val.count, len(sharp_paths))
    picks = np.linspace(0, len(sharp_paths) - 1, n).round().astype(int).tolist()
    sharp = torch.stack([_load_crop(sharp_paths[i], val.size) for i in picks]).to(device)
    if val.kind == "on_the_fly":
        from blurkit.synth import blur_batch

        seeds = [draw_seed(val.seed, 0, i) for i in range(n)]
        blurred, _, _ = blur_batch(sharp, seeds, preset=preset, overrides=overrides)
    else:
        blurred = torch.stack([_load_crop(p, val.size) for p in (blur_paths[i] for i in picks) if p is not None]).to(device)
    return blurred.float(), sharp.float()


@torch.no_grad()
def validate(
    generator: nn.Module, blurred: torch.Tensor, sharp: torch.Tensor, batch: int = 4
) -> tuple[dict[str, float], torch.Tensor]:
    """Mean PSNR (rgb) and SSIM (skimage) of the generator on validation crops; also its outputs."""
    from blurkit.metrics import psnr, ssim

    was_training = generator.training
    generator.eval()
    outs = []
    for i in range(0, blurred.shape[0], batch):
        x = blurred[i : i + batch] * 2 - 1
        outs.append(((generator(x).float() + 1) * 0.5).clamp(0, 1))
    generator.train(was_training)
    restored = torch.cat(outs)
    metrics = {
        "psnr": _finite_mean(psnr(restored, sharp)),
        "ssim": _finite_mean(ssim(restored, sharp, variant="skimage")),
        "psnr_blurred": _finite_mean(psnr(blurred, sharp)),
        "ssim_blurred": _finite_mean(ssim(blurred, sharp, variant="skimage")),
    }
    return metrics, restored


def _finite_mean(values: Any) -> float:
    """The mean of the finite values (identical crops score an infinite PSNR); ``inf`` if none is."""
    t = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    return float(t[torch.isfinite(t)].mean()) if torch.isfinite(t).any() else math.inf


def write_grid(
    path: Path, blurred: torch.Tensor, restored: torch.Tensor, sharp: torch.Tensor, rows: int
) -> None:
    """PNG grid: one row per image, columns blurred | restored | sharp."""
    n = min(rows, blurred.shape[0])
    grid = torch.cat([torch.cat([blurred[i], restored[i], sharp[i]], dim=2) for i in range(n)], dim=1)
    write_image(path, to_image(grid.clamp(0, 1)))

