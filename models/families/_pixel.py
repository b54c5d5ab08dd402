"""The pixel-loss training step shared by the families without a critic (``svrnn``, ``nafnet``).

Loss: ``pixel_weight · pixel + perceptual_weight · perceptual`` — pixel MSE (the spatially variant
RNN paper's Euclidean loss) or L1 on [0, 1] images, plus an optional VGG perceptual term
(:class:`models.losses.PerceptualLoss`; weight 0 in the shipped configs, and then VGG is not loaded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from models.losses import pixel_loss
from models.training.families import Batch, ModelFamily, StepContext, StepResult

#: The columns of ``log.csv`` of a pixel-loss run.
LOG_FIELDS = ("step", "epoch", "lr", "loss_pixel", "loss_perceptual", "loss_g", "l1", "seconds")


@dataclass(frozen=True)
class PixelLossConfig:
    """``[loss]`` of a pixel-loss run.

    Attributes:
        pixel: ``"mse"`` (the paper's Euclidean loss) or ``"l1"``.
        pixel_weight: weight of the pixel term (on images in [0, 1]).
        perceptual: VGG variant of the optional perceptual term (``models.losses``), or ``"none"``.
        perceptual_weight: its weight (0 disables it without loading VGG).
    """

    pixel: str = "mse"
    pixel_weight: float = 1.0
    perceptual: str = "none"
    perceptual_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.pixel not in ("mse", "l1"):
            raise ValueError(f"pixel: must be 'mse' or 'l1', got {self.pixel!r}")
        if self.pixel_weight < 0 or self.perceptual_weight < 0:
            raise ValueError(
                f"loss weights: must be >= 0, got pixel {self.pixel_weight}, perceptual {self.perceptual_weight}"
            )

    @property
    def uses_perceptual(self) -> bool:
        return self.perceptual != "none" and self.perceptual_weight > 0


def perceptual_variant(loss: PixelLossConfig) -> str:
    """The VGG variant the loss needs, or ``"none"`` when it uses none."""
    return loss.perceptual if loss.uses_perceptual else "none"


def train_step(ctx: StepContext, batch: Batch) -> StepResult:
    """One optimiser step on ``pixel_weight · pixel + perceptual_weight · perceptual`` (no critic).

    Returns:
        The generator output (before the step) and the logged losses.
    """
    x, y = batch
    loss: PixelLossConfig = ctx.loss
    ctx.opt_g.zero_grad(set_to_none=True)
    with ctx.autocast():
        fake = ctx.generator(x)
    loss_pix = pixel_loss(fake, y, loss.pixel)
    if ctx.perceptual is not None and loss.uses_perceptual:
        with ctx.autocast():
            loss_p = ctx.perceptual(fake, y).float()
    else:
        loss_p = torch.zeros((), device=fake.device)
    loss_g = loss.pixel_weight * loss_pix + loss.perceptual_weight * loss_p
    loss_g.backward()
    ctx.opt_g.step()
    return fake, {
        "loss_pixel": float(loss_pix.detach()),
        "loss_perceptual": float(loss_p.detach()),
        "loss_g": float(loss_g.detach()),
    }


def pixel_family(**fields: Any) -> ModelFamily:
    """A :class:`ModelFamily` trained by this module's step: its loss config, step, log columns and
    perceptual variant filled in; ``fields`` are the family's own (name, label, network, ...)."""
    return ModelFamily(
        loss_config=PixelLossConfig,
        train_step=train_step,
        log_fields=LOG_FIELDS,
        perceptual_variant=perceptual_variant,
        **fields,
    )
