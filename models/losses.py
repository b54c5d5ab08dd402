"""The losses of the model families: pixel, perceptual (VGG), WGAN-GP and RaLSGAN terms.

* Pixel: MSE or L1 on the [0, 1] scale (:func:`pixel_loss`); :func:`content_loss` pairs it with the
  perceptual term.
* WGAN-GP (DeblurGAN): critic ``E[D(fake)] - E[D(real)] + λ·E[(‖∇D(x̂)‖₂ - 1)²]`` with ``x̂`` random
  interpolates of real and fake (λ = 10, Gulrajani et al. 2017); generator ``-E[D(fake)]``.
* RaLSGAN (DeblurGAN-v2; relativistic average least squares, Jolicoeur-Martineau 2018), with
  ``r = D(sharp)``, ``f = D(restored)`` and means over the batch's patch scores::

      L_D = ( E[(r − E f − 1)²] + E[(f − E r + 1)²] ) / 2
      L_G = ( E[(r − E f + 1)²] + E[(f − E r − 1)²] ) / 2

  the means ``E f``, ``E r`` are constants for the gradient; :func:`multiscale_mean` averages a term
  over the score maps of a multi-scale critic.
* Perceptual: mean squared difference of VGG features of restored and sharp images, after ImageNet
  normalisation. ``vgg19_conv3_3`` is the paper's choice (``vgg19().features[:15]``);
  ``vgg16_relu3_3`` (``vgg16().features[:16]``) is what the popular Keras port uses.

VGG weights come from, in order: an explicit file, the ``BLURKIT_VGG_WEIGHTS`` environment variable,
torchvision's download. A file holds a ``vgg*().features`` state dict (``0.weight`` …) or a whole
torchvision VGG state dict (``features.0.weight`` …), any float dtype, whole or cut after the layers
used; a whole ``features`` dict of the other architecture is refused. With none available the loss
refuses (:class:`VGGWeightsUnavailable`): a randomly initialised VGG would train silently badly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from models.checkpoint import read_weights_file

#: Environment variable naming a local VGG ``features`` state dict.
VGG_WEIGHTS_ENV = "BLURKIT_VGG_WEIGHTS"
#: Perceptual variants: name → (torchvision architecture, number of ``features`` layers kept).
PERCEPTUAL_LAYERS: dict[str, tuple[str, int]] = {
    "vgg19_conv3_3": ("vgg19", 15),
    "vgg16_relu3_3": ("vgg16", 16),
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGWeightsUnavailable(RuntimeError):
    """No pretrained VGG weights could be found (no file given and the download failed)."""


def wgan_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Wasserstein critic loss ``E[D(fake)] - E[D(real)]`` (to be minimised)."""
    return fake_scores.float().mean() - real_scores.float().mean()


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Wasserstein generator loss ``-E[D(fake)]``."""
    return -fake_scores.float().mean()


def pixel_loss(restored: torch.Tensor, sharp: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """MSE or L1 between two batches in [-1, 1], measured on the [0, 1] scale.

    >>> float(pixel_loss(torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2), "l1"))
    0.5
    """
    diff = (restored.float() - sharp.float()) * 0.5
    if kind == "mse":
        return diff.pow(2).mean()
    if kind == "l1":
        return diff.abs().mean()
    raise ValueError(f"pixel loss: must be 'mse' or 'l1', got {kind!r}")


def content_loss(
    restored: torch.Tensor,
    sharp: torch.Tensor,
    pixel: str,
    perceptual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(pixel term, perceptual term) on images in [-1, 1]: :func:`pixel_loss` of kind ``pixel`` and the
    perceptual loss in float32 (zero without one)."""
    pix = pixel_loss(restored, sharp, pixel)
    perc = (
        perceptual(restored, sharp).float()
        if perceptual is not None
        else torch.zeros((), device=restored.device)
    )
    return pix, perc


def ralsgan_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``(E[(r − E f − 1)²] + E[(f − E r + 1)²]) / 2`` (to be minimised by the critic).

    The means ``E f`` and ``E r`` are constants for the gradient, as in the authors' code (their
    means come from a pool of stored, detached scores).
    """
    r, f = real_scores.float(), fake_scores.float()
    mean_r, mean_f = r.mean().detach(), f.mean().detach()
    return (((r - mean_f - 1.0) ** 2).mean() + ((f - mean_r + 1.0) ** 2).mean()) / 2


def ralsgan_generator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``(E[(r − E f + 1)²] + E[(f − E r − 1)²]) / 2`` (to be minimised by the generator; the means
    are constants for the gradient, so only the second term moves the generator)."""
    r, f = real_scores.float(), fake_scores.float()
    mean_r, mean_f = r.mean().detach(), f.mean().detach()
    return (((r - mean_f + 1.0) ** 2).mean() + ((f - mean_r - 1.0) ** 2).mean()) / 2


def multiscale_mean(
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    real_scores: Sequence[torch.Tensor],
    fake_scores: Sequence[torch.Tensor],
) -> torch.Tensor:
    """``loss(real, fake)`` averaged over the score maps of a multi-scale critic (one pair per scale)."""
    total = sum(
        (loss(r, f) for r, f in zip(real_scores, fake_scores, strict=True)),
        torch.zeros((), device=real_scores[0].device),
    )
    return total / len(real_scores)


def weighted_perceptual(loss: Any) -> str:
    """The VGG variant of a loss configuration with ``perceptual`` and ``perceptual_weight`` fields,
    or ``"none"`` when its weight is 0."""
    return str(loss.perceptual) if loss.perceptual_weight > 0 else "none"


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    alpha: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``E[(‖∇ₓD(x̂)‖₂ - 1)²]`` at ``x̂ = α·real + (1-α)·fake``, one ``α ~ U(0, 1)`` per sample.

    Args:
        critic: the critic (called on the interpolates; its graph is kept for the backward pass).
        real, fake: (B, C, H, W) batches; ``fake`` is detached here.
        alpha: optional (B,) or (B, 1, 1, 1) mixing weights (drawn when None).
        generator: torch generator for ``alpha`` (the global torch RNG when None).

    Returns:
        The scalar penalty (multiply by λ = 10 outside).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real/fake: shapes differ, {tuple(real.shape)} vs {tuple(fake.shape)}")
    b = real.shape[0]
    if alpha is None:
        alpha = torch.rand(b, generator=generator, device="cpu" if generator is None else generator.device)
    alpha = alpha.to(real.device, torch.float32).reshape(b, 1, 1, 1)
    x_hat = (alpha * real.detach().float() + (1 - alpha) * fake.detach().float()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.float().sum(), x_hat, create_graph=True)
    norms = grad.reshape(b, -1).norm(2, dim=1)
    return ((norms - 1.0) ** 2).mean()


def _download_vgg_features(arch: str) -> nn.Sequential:
    """torchvision's ImageNet VGG ``features`` (downloads on first use; raises when offline)."""
    import torchvision

    if arch == "vgg19":
        return torchvision.models.vgg19(weights=torchvision.models.VGG19_Weights.IMAGENET1K_V1).features
    return torchvision.models.vgg16(weights=torchvision.models.VGG16_Weights.IMAGENET1K_V1).features


def _vgg_trunk(n_layers: int) -> nn.Sequential:
    """The first ``n_layers`` modules of a torchvision VGG16/VGG19 ``features`` (identical up to 16)."""
    if n_layers > 16:
        raise ValueError(f"n_layers: VGG16 and VGG19 differ after layer 16, got {n_layers}")
    layers: list[nn.Module] = []
    in_ch = 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256):
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_ch, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_ch = int(v)
    return nn.Sequential(*layers[:n_layers])


def load_vgg_features(variant: str, weights: str | os.PathLike[str] | None = None) -> nn.Sequential:
    """The truncated, frozen, pretrained VGG of a perceptual ``variant`` (eval mode, no gradients).

    Raises:
        ValueError: unknown variant, or a weights file that does not fit the architecture.
        FileNotFoundError: the weights file (argument or environment variable) does not exist.
        VGGWeightsUnavailable: no file given and torchvision's download failed.
    """
    if variant not in PERCEPTUAL_LAYERS:
        raise ValueError(
            f"perceptual: unknown variant {variant!r} (use one of {', '.join(PERCEPTUAL_LAYERS)})"
        )
    arch, n_layers = PERCEPTUAL_LAYERS[variant]
    source = weights if weights not in (None, "") else os.environ.get(VGG_WEIGHTS_ENV) or None
    if source is not None:
        path, state = read_weights_file(source, "VGG")
        if any(k.startswith("features.") for k in state):
            state = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        indices = {int(k.split(".")[0]) for k in state if k.split(".")[0].isdigit()}
        last = max(indices, default=-1)
        file_arch = {28: "vgg16", 34: "vgg19"}.get(last)
        if file_arch is not None and file_arch != arch:
            raise ValueError(
                f"{path}: holds {file_arch} weights, perceptual variant {variant!r} needs {arch}"
            )
        trunk = _vgg_trunk(n_layers)
        try:
            trunk.load_state_dict(
                {
                    k: v.float()
                    for k, v in state.items()
                    if k.split(".")[0].isdigit() and int(k.split(".")[0]) < n_layers
                }
            )
        except (RuntimeError, ValueError) as exc:
            raise ValueError(
                f"{path}: not a {arch} features state dict (perceptual variant {variant!r}): {exc}"
            ) from exc
        features = trunk
    else:
        try:
            features = _download_vgg_features(arch)
        except Exception as exc:
            raise VGGWeightsUnavailable(
                f"perceptual loss {variant!r}: no pretrained {arch} weights (download failed: {exc}). "
                f"Pass a local `{arch}().features` state dict with --vgg-weights FILE or set {VGG_WEIGHTS_ENV}; "
                "a random VGG is never used."
            ) from exc
    trunk = nn.Sequential(*list(features.children())[:n_layers]).eval()
    for p in trunk.parameters():
        p.requires_grad_(False)
    return trunk


class PerceptualLoss(nn.Module):
    """MSE between VGG features of two image batches given in [-1, 1] (ImageNet-normalised inside)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, variant: str = "vgg19_conv3_3", weights: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self.variant = variant
        self.features = load_vgg_features(variant, weights)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.features.eval()  # always frozen
        return self

    def _feats(self, x: torch.Tensor) -> torch.Tensor:
        x01 = (x + 1.0) * 0.5
        return self.features((x01 - self.mean) / self.std)

    def forward(self, restored: torch.Tensor, sharp: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self._feats(sharp)
        return torch.mean((self._feats(restored).float() - target.float()) ** 2)


def build_perceptual(
    variant: str, weights: str | os.PathLike[str] | None, device: torch.device | str
) -> PerceptualLoss | None:
    """The perceptual loss of ``variant`` on ``device``, or None for ``"none"``."""
    return PerceptualLoss(variant, weights).to(device) if variant != "none" else None
