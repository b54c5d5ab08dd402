"""The DeblurGAN-v2 family (Kupyn et al., ICCV 2019): RaLSGAN training step over a double-scale critic.

Losses (relativistic average least squares, :func:`models.losses.ralsgan_critic_loss` and
:func:`~models.losses.ralsgan_generator_loss`), averaged over the two critics (local and global
PatchGAN, :class:`models.archs.deblurganv2.DoubleCritic`). Generator:
``L_G = 0.5 · MSE + 0.006 · perceptual + 0.001 · L_G,adv`` — the weights of the authors'
``PerceptualLoss`` (0.5 × pixel MSE + 0.006 × VGG19 conv3_3 feature MSE) and their
``adv_lambda = 0.001``; the paper's Eq. 2 prints 0.01 for the adversarial weight. One critic update
per generator update, critic first.

Deviations from the released code: (1) its ``PerceptualLoss`` ImageNet-normalises the first image of
the batch in place before both terms, so at its batch size of 1 the pixel MSE is taken on normalised
images (about 20× the [0, 1] MSE); here the pixel MSE is on [0, 1] images as the paper writes it;
(2) its relativistic means come from a pool of the last 50 detached score maps, here from the
current batch (detached too); (3) it scales the critic loss by ``adv_lambda`` (no effect under Adam
up to its epsilon); (4) it freezes the backbone for the first 3 epochs, uses batch 1, 200 × 1000
iterations with a linear decay from epoch 50 that ends near 0.26 × the initial rate, and heavy
geometric and photometric augmentation; ``models.train`` uses its own schedule, batch and flips;
(5) its layers keep PyTorch's default initialisation, here N(0, 0.02) as in DeblurGAN.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.archs.deblurganv2 import (
    MIN_SIZE,
    SIZE_MULTIPLE,
    DoubleCritic,
    DoubleCriticConfig,
    FPNMobileNet,
    FPNMobileNetConfig,
)
from models.checkpoint import register_network
from models.losses import (
    content_loss,
    multiscale_mean,
    ralsgan_critic_loss,
    ralsgan_generator_loss,
    weighted_perceptual,
)
from models.tiling import NetworkDeblurrer
from models.training.families import (
    CONFIG_DIR,
    Batch,
    Comparison,
    CostVariant,
    ModelFamily,
    StepContext,
    StepResult,
    register_family,
)

#: The columns of ``log.csv`` of a DeblurGAN-v2 run.
LOG_FIELDS = ("step", "epoch", "lr", "loss_d", "loss_adv", "loss_pixel", "loss_perceptual", "loss_g", "l1", "seconds")


@dataclass(frozen=True)
class DeblurGANv2LossConfig:
    """``[loss]`` of a ``deblurganv2`` run (defaults: the authors' configuration).

    Attributes:
        perceptual: VGG variant (``models.losses``; the paper's is ``vgg19_conv3_3``) or ``"none"``.
        perceptual_weight: weight of the VGG feature MSE (0.006).
        pixel: ``"mse"`` (the authors') or ``"l1"``.
        pixel_weight: weight of the pixel term on [0, 1] images (0.5).
        adv_weight: weight of the generator's RaLSGAN term (0.001).
    """

    perceptual: str = "vgg19_conv3_3"
    perceptual_weight: float = 0.006
    pixel: str = "mse"
    pixel_weight: float = 0.5
    adv_weight: float = 0.001

    def __post_init__(self) -> None:
        if self.pixel not in ("mse", "l1"):
            raise ValueError(f"pixel: must be 'mse' or 'l1', got {self.pixel!r}")
        for name in ("perceptual_weight", "pixel_weight", "adv_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")


def train_step(ctx: StepContext, batch: Batch) -> StepResult:
    """One critic update then one generator update (RaLSGAN, both critic scales averaged).

    Returns:
        The generator output and the logged losses.
    """
    x, y = batch
    critic, opt_d = ctx.critic_and_optimiser("deblurganv2")
    loss: DeblurGANv2LossConfig = ctx.loss
    with ctx.autocast():
        fake = ctx.generator(x)
    fake32 = fake.float()
    for p in critic.parameters():
        p.requires_grad_(True)
    opt_d.zero_grad(set_to_none=True)
    with ctx.autocast():
        real_scores = critic(y)
        fake_scores = critic(fake32.detach())
    loss_d = multiscale_mean(ralsgan_critic_loss, real_scores, fake_scores)
    loss_d.backward()
    ctx.reduce_critic_grads()
    opt_d.step()
    for p in critic.parameters():
        p.requires_grad_(False)
    ctx.opt_g.zero_grad(set_to_none=True)
    with ctx.autocast():
        real_scores = [s.detach() for s in critic(y)]
        fake_scores = critic(fake)
        loss_pix, loss_p = content_loss(fake, y, loss.pixel, ctx.perceptual)
    loss_adv = multiscale_mean(ralsgan_generator_loss, real_scores, fake_scores)
    loss_g = loss.pixel_weight * loss_pix + loss.perceptual_weight * loss_p + loss.adv_weight * loss_adv
    loss_g.backward()
    ctx.opt_g.step()
    return fake, {
        "loss_d": float(loss_d.detach()),
        "loss_adv": float(loss_adv.detach()),
        "loss_pixel": float(loss_pix.detach()),
        "loss_perceptual": float(loss_p.detach()),
        "loss_g": float(loss_g.detach()),
    }


class DeblurGANv2(NetworkDeblurrer):
    """An :class:`~models.archs.deblurganv2.FPNMobileNet` behind the :class:`models.base.Deblurrer`
    interface ([0, 1] in and out).

    Any size: padded to a multiple of 32 (at least 32) and cropped back; with ``tile`` set, large
    images run in overlapping tiles.
    """

    net: FPNMobileNet
    size_multiple = SIZE_MULTIPLE
    min_size = MIN_SIZE


def build_generator(config: FPNMobileNetConfig) -> FPNMobileNet:
    """A fresh generator for training: the backbone starts from ImageNet weights where available."""
    return FPNMobileNet(config, init_from_pretrained=True)


NETWORK = register_network("deblurganv2", FPNMobileNet, FPNMobileNetConfig, DeblurGANv2)
save_generator = NETWORK.save
generator_from_state = NETWORK.from_state
load_generator = NETWORK.load

FAMILY = register_family(
    ModelFamily(
        name="deblurganv2",
        label="DeblurGAN-v2 MobileNet (Kupyn et al. 2019)",
        summary="FPN over MobileNetV2, double-scale RaLSGAN critic",
        network=NETWORK,
        loss_config=DeblurGANv2LossConfig,
        train_step=train_step,
        log_fields=LOG_FIELDS,
        size_multiple=SIZE_MULTIPLE,
        build_generator=build_generator,
        critic_config=DoubleCriticConfig,
        build_critic=DoubleCritic,
        perceptual_variant=weighted_perceptual,
        configs={
            "deblurganv2.toml": "the paper's MobileNet model, for a GPU",
            "deblurganv2_small.toml": "CPU smoke runs and model comparisons",
        },
        comparison=Comparison(
            CONFIG_DIR / "deblurganv2_small.toml",
            CONFIG_DIR / "deblurganv2.toml",
            published="28.17 / 0.925",
            variants=(CostVariant("dsc", "DeblurGAN-v2 MobileNet-DSC (cost only)", {"dsc": True}),),
        ),
    )
)
