"""The conditions an image is scored in: sharp, blurred at each length, and each deblurred version.

A condition is ``(name, length, image)``: ``("sharp", 0, image)`` first, then for each trajectory
length the blurred image (``"blurred"``), the outputs read from ``--deblurred`` folders (named after
the folder) and the outputs of each deblurrer (named after it). Each condition is scored against a
reference: the pseudo ground truth (``"pseudo"``) and, when given, the real labels (``"labels"``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from benchmarks.yolo_uplift.config import UpliftConfig
from benchmarks.yolo_uplift.items import Item

__all__ = [
    "BLURRED",
    "CLASSICAL",
    "LABELS",
    "PSEUDO",
    "SHARP",
    "Condition",
    "blur_image",
    "default_deblurrers",
    "item_conditions",
    "load_deblurrers",
    "run_deblurrer",
]

SHARP = "sharp"
BLURRED = "blurred"
PSEUDO = "pseudo"  # reference: the detections on the sharp image
LABELS = "labels"  # reference: the real labels
CLASSICAL = ("unsharp", "wiener", "richardson_lucy")

Condition = tuple[str, int, np.ndarray]  # (name, trajectory length in px, float RGB image)


def blur_image(
    sharp: np.ndarray, key: str, length: int, seed: int, preset: str
) -> tuple[np.ndarray, np.ndarray]:
    """Blur one float RGB image with a trajectory of exactly ``length`` px (seeded by image and length).

    Returns:
        Blurred float32 RGB (H, W, 3) in [0, 1] and the kernel (k, k).
    """
    from blurkit._rng import item_seed
    from blurkit.synth import blur_batch
    from blurkit.tensors import to_image, to_tensor

    blurred, kernels, _records = blur_batch(
        to_tensor(sharp)[None].float(),
        [item_seed(seed, f"{key}|length={length}")],
        preset=preset,
        overrides={"length": (length, length)},
    )
    out = to_image(blurred[0].clamp(0, 1)).astype(np.float32, copy=False)
    return out, kernels[0].cpu().numpy().astype(np.float32)


def default_deblurrers() -> tuple[str, ...]:
    """``identity`` plus the classical deblurrers registered in this installation."""
    from models.base import available_deblurrers

    have = set(available_deblurrers())
    return ("identity", *(n for n in CLASSICAL if n in have))


def load_deblurrers(specs: Sequence[str], device: str) -> list[Any]:
    """Deblurrers by registered name or checkpoint path; an unknown name raises ValueError listing the names."""
    from models.base import load_deblurrer

    out = []
    for spec in specs:
        try:
            out.append(load_deblurrer(spec, device))
        except ValueError as exc:
            raise ValueError(f"--deblurrer: {exc}") from exc
    names = [getattr(d, "name", s) for d, s in zip(out, specs, strict=True)]
    if len(set(names)) != len(names):
        raise ValueError(f"--deblurrer: the same deblurrer is listed twice ({', '.join(names)})")
    return out


def run_deblurrer(deblurrer: Any, blurred: np.ndarray, kernel: np.ndarray | None, device: str) -> np.ndarray:
    """Apply a :class:`models.base.Deblurrer` to one float RGB image."""
    import torch

    from blurkit.tensors import to_image, to_tensor

    needs_kernel = bool(getattr(deblurrer, "needs_kernel", False))
    if needs_kernel and kernel is None:
        raise ValueError(
            f"deblurrer {deblurrer.name!r} needs the true blur kernel, which these pairs do not supply"
        )
    x = to_tensor(blurred)[None].float().to(device)
    k = torch.from_numpy(kernel)[None].float().to(device) if needs_kernel and kernel is not None else None
    with torch.no_grad():
        y = deblurrer(x, k) if k is not None else deblurrer(x)
    if tuple(y.shape) != tuple(x.shape):
        raise ValueError(
            f"deblurrer {deblurrer.name!r} returned shape {tuple(y.shape)} for input {tuple(x.shape)}"
        )
    return to_image(y[0].clamp(0, 1)).astype(np.float32, copy=False)


def _blurred_versions(
    item: Item, sharp: np.ndarray, config: UpliftConfig
) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """``(length, blurred, kernel or None)``: the item's ready-made blur, or one blur per length."""
    if not item.blurred:
        for length in config.lengths:
            yield (length, *blur_image(sharp, item.key, length, config.seed, config.preset))
        return
    for length, load in item.blurred.items():
        blurred = load()
        if blurred.shape != sharp.shape:
            raise ValueError(f"{item.key}: blurred {blurred.shape} and sharp {sharp.shape} sizes differ")
        yield length, blurred, item.kernel() if item.kernel is not None else None


def item_conditions(
    item: Item, sharp: np.ndarray, deblurrers: Sequence[Any], config: UpliftConfig
) -> list[Condition]:
    """Every condition of one item, sharp first (see the module docstring for the order)."""
    conditions: list[Condition] = [(SHARP, 0, sharp)]
    for length, blurred, kernel in _blurred_versions(item, sharp, config):
        conditions.append((BLURRED, length, blurred))
        for name, load in item.deblurred.items():
            conditions.append((name, length, load()))
        for d in deblurrers:
            conditions.append((d.name, length, run_deblurrer(d, blurred, kernel, config.device)))
    return conditions
