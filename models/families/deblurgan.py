"""The DeblurGAN family (Kupyn et al. 2018): WGAN-GP training step, checkpoints, original weights.

Loss (``[loss]``, :class:`DeblurGANLossConfig`): ``critic_steps`` WGAN-GP critic updates
(``E[D(fake)] − E[D(real)] + gp_weight · gradient penalty``) on one generator output, then the
generator update on ``adversarial_weight · (−E[D(fake)]) + perceptual_weight · perceptual +
pixel_weight · pixel`` (the paper: ``−E[D(fake)] + 100 · perceptual``). ``content_warmup = N`` trains
the generator on the content terms alone for its first N steps.

Checkpoints: :func:`save_generator` writes the shipped single-file format (half-precision weights +
architecture); ``models.load_deblurrer(path)`` reads it, training checkpoints of
``models.training`` and original DeblurGAN generator state dicts (``netG`` of KupynOrest/DeblurGAN,
keys ``model.1.weight`` …, mapped by :func:`convert_original_state_dict`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from models.archs.deblurgan import MIN_SIZE, SIZE_MULTIPLE, Critic, CriticConfig, Generator, GeneratorConfig
from models.checkpoint import register_network
from models.losses import (
    content_loss,
    gradient_penalty,
    weighted_perceptual,
    wgan_critic_loss,
    wgan_generator_loss,
)
from models.tiling import NetworkDeblurrer
from models.training.families import (
    CONFIG_DIR,
    Batch,
    Comparison,
    ModelFamily,
    StepContext,
    StepResult,
    register_family,
)

#: The columns of ``log.csv`` of a DeblurGAN run.
LOG_FIELDS = ("step", "epoch", "lr", "loss_d", "gp", "loss_adv", "loss_perceptual", "loss_pixel", "loss_g", "l1", "seconds")


@dataclass(frozen=True)
class DeblurGANLossConfig:
    """``[loss]`` of a ``deblurgan`` run: WGAN-GP and perceptual terms, and an optional pixel term.

    The paper's generator loss is ``adversarial + 100 · perceptual`` (``pixel_weight = 0``). The
    feature MSE alone is lower for a washed-out copy of a blurred photo than for the photo itself,
    so short runs drift towards low contrast; a pixel term (``pixel_weight > 0``, MSE or L1 on
    [0, 1] images, as DeblurGAN-v2 added) anchors colour and contrast.
    """

    perceptual: str = "vgg19_conv3_3"  # or "vgg16_relu3_3"; "none" only for smoke tests
    perceptual_weight: float = 100.0
    gp_weight: float = 10.0
    critic_steps: int = 5
    pixel: str = "mse"
    pixel_weight: float = 0.0
    adversarial_weight: float = 1.0
    content_warmup: int = 0

    def __post_init__(self) -> None:
        if self.content_warmup < 0:
            raise ValueError(f"config [loss]: content_warmup must be >= 0, got {self.content_warmup}")
        if self.adversarial_weight < 0:
            raise ValueError(f"config [loss]: adversarial_weight must be >= 0, got {self.adversarial_weight}")
        if self.critic_steps < 1:
            raise ValueError(f"config [loss]: critic_steps must be >= 1, got {self.critic_steps}")
        if self.pixel not in ("mse", "l1"):
            raise ValueError(f"config [loss]: pixel must be 'mse' or 'l1', got {self.pixel!r}")
        if self.pixel_weight < 0 or self.perceptual_weight < 0:
            raise ValueError(
                f"config [loss]: weights must be >= 0, got pixel_weight {self.pixel_weight}, "
                f"perceptual_weight {self.perceptual_weight}"
            )


def train_step(ctx: StepContext, batch: Batch) -> StepResult:
    """DeblurGAN's step: ``critic_steps`` WGAN-GP critic updates on one generator output, then the
    generator update on ``-adversarial_weight · E[D(fake)] + perceptual_weight · perceptual +
    pixel_weight · pixel``. During the content warm-up, or with ``adversarial_weight == 0``, the
    critic is neither trained nor evaluated (its losses are logged as NaN)."""
    x, y = batch
    critic, opt_d = ctx.critic_and_optimiser("deblurgan")
    loss: DeblurGANLossConfig = ctx.loss
    if ctx.step < loss.content_warmup:
        loss = dataclasses.replace(loss, adversarial_weight=0.0)
    with ctx.autocast():
        fake = ctx.generator(x)
    nan = torch.tensor(float("nan"))
    loss_d = gp = loss_adv = nan  # logged as NaN when the critic takes no part
    adversarial = loss.adversarial_weight > 0
    if adversarial:
        fake32 = fake.float()
        # critic: several updates on the same generator output (as in DeblurGAN)
        for p in critic.parameters():
            p.requires_grad_(True)
        for _ in range(loss.critic_steps):
            opt_d.zero_grad(set_to_none=True)
            with ctx.autocast():
                loss_wd = wgan_critic_loss(critic(y), critic(fake32.detach()))
            gp = gradient_penalty(critic, y, fake32)
            loss_d = loss_wd + loss.gp_weight * gp
            loss_d.backward()
            ctx.reduce_critic_grads()
            opt_d.step()
        for p in critic.parameters():
            p.requires_grad_(False)
    # generator
    ctx.opt_g.zero_grad(set_to_none=True)
    with ctx.autocast():
        if adversarial:
            loss_adv = wgan_generator_loss(critic(fake))
        loss_pix, loss_p = content_loss(fake, y, loss.pixel, ctx.perceptual)
    loss_g = (
        (loss.adversarial_weight * loss_adv if adversarial else 0.0)
        + loss.perceptual_weight * loss_p
        + loss.pixel_weight * loss_pix
    )
    loss_g.backward()
    ctx.opt_g.step()
    return fake, {
        "loss_d": float(loss_d.detach()),
        "gp": float(gp.detach()),
        "loss_adv": float(loss_adv.detach()),
        "loss_perceptual": float(loss_p.detach()),
        "loss_pixel": float(loss_pix.detach()),
        "loss_g": float(loss_g.detach()),
    }


# --------------------------------------------------------------------------------------------------
# Original DeblurGAN weights
# --------------------------------------------------------------------------------------------------
_ORIG_KEY = re.compile(r"^model\.(\d+)\.(?:conv_block\.(\d+)\.)?(weight|bias)$")


def is_original_state_dict(state: Mapping[str, Any]) -> bool:
    """True when ``state`` looks like an original DeblurGAN ``netG`` state dict (``model.N...`` keys)."""
    keys = [k.removeprefix("module.") for k in state]
    return bool(keys) and "model.1.weight" in keys and all(k.startswith("model.") for k in keys)


def convert_original_state_dict(
    state: Mapping[str, torch.Tensor],
) -> tuple[GeneratorConfig, dict[str, torch.Tensor]]:
    """Map an original DeblurGAN ResNet generator state dict onto :class:`Generator`.

    The original is one ``nn.Sequential`` (``model.K``): pad/conv/IN/ReLU at 0–3, downsampling convs
    at 4 and 7, residual blocks at 10 … 9+B (``conv_block.1`` and ``conv_block.6`` with dropout, or
    ``conv_block.5`` without), transposed convs at 10+B and 13+B, and the last conv at 17+B. Instance
    norm running statistics saved by old PyTorch versions are dropped (the norm is not affine and
    uses batch statistics). The original's ``learn_residual`` is assumed on (the published model).

    Returns:
        The inferred configuration and a state dict for ``Generator(config)``.

    Raises:
        ValueError: a key or shape that does not fit the ResNet generator layout.
    """
    params: dict[tuple[int, int | None], dict[str, torch.Tensor]] = {}
    for raw_key, value in state.items():
        key = raw_key.removeprefix("module.")
        if key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            continue
        m = _ORIG_KEY.match(key)
        if m is None:
            raise ValueError(f"original DeblurGAN state dict: unexpected key {raw_key!r}")
        top, sub = int(m.group(1)), (int(m.group(2)) if m.group(2) is not None else None)
        params.setdefault((top, sub), {})[m.group(3)] = value
    block_tops = sorted({top for top, sub in params if sub is not None})
    n_blocks = len(block_tops)
    if block_tops != list(range(10, 10 + n_blocks)):
        raise ValueError(
            f"original DeblurGAN state dict: residual blocks at model.{block_tops}, expected 10.."
        )
    if (1, None) not in params:
        raise ValueError("original DeblurGAN state dict: no model.1.weight (first conv)")
    base = int(params[(1, None)]["weight"].shape[0])
    second_conv = {sub for top, sub in params if sub is not None and sub != 1}
    if len(second_conv) != 1 or next(iter(second_conv)) not in (5, 6):
        raise ValueError(
            f"original DeblurGAN state dict: residual block convs at conv_block.{sorted(second_conv)}"
        )
    second = next(iter(second_conv))
    b = n_blocks
    mapping: dict[tuple[int, int | None], str] = {
        (1, None): "stem.1",
        (4, None): "down.0.0",
        (7, None): "down.1.0",
        (10 + b, None): "up.0.0",
        (13 + b, None): "up.1.0",
        (17 + b, None): "head.1",
    }
    for i in range(b):
        mapping[(10 + i, 1)] = f"blocks.{i}.body.1"
        mapping[(10 + i, second)] = f"blocks.{i}.body.6"
    unknown = sorted(set(params) - set(mapping), key=str)
    if unknown:
        raise ValueError(
            f"original DeblurGAN state dict: layers {unknown} do not fit the ResNet generator layout"
        )
    config = GeneratorConfig(base_channels=base, n_blocks=b, dropout=0.5 if second == 6 else 0.0)
    out = {f"{mapping[k]}.{name}": t for k, group in params.items() for name, t in group.items()}
    expected = Generator(config).state_dict()
    for name, ref in expected.items():
        if name not in out:
            raise ValueError(f"original DeblurGAN state dict: missing parameter for {name}")
        if tuple(out[name].shape) != tuple(ref.shape):
            raise ValueError(
                f"original DeblurGAN state dict: {name} has shape {tuple(out[name].shape)}, expected {tuple(ref.shape)}"
            )
    return config, out

def _from_original(obj: Mapping[str, Any]) -> Generator | None:
    """The generator of an original DeblurGAN ``netG`` state dict, else None."""
    if not is_original_state_dict(obj):
        return None
    config, state = convert_original_state_dict(obj)
    gen = Generator(config)
    gen.load_state_dict({k: v.float() for k, v in state.items()})
    return gen


# --------------------------------------------------------------------------------------------------
# Deblurrer wrapper, registration
# --------------------------------------------------------------------------------------------------
class DeblurGAN(NetworkDeblurrer):
    """A :class:`~models.archs.deblurgan.Generator` behind the :class:`models.base.Deblurrer`
    interface ([0, 1] in and out).

    Images of any size are reflect-padded to a multiple of 4 and cropped back; with ``tile`` set,
    images larger than ``tile`` are processed in overlapping tiles blended with linear ramps.
    """

    net: Generator
    size_multiple = SIZE_MULTIPLE
    min_size = MIN_SIZE


NETWORK = register_network("deblurgan", Generator, GeneratorConfig, DeblurGAN, convert=_from_original)
save_generator = NETWORK.save
generator_from_state = NETWORK.from_state
load_generator = NETWORK.load

FAMILY = register_family(
    ModelFamily(
        name="deblurgan",
        label="DeblurGAN (Kupyn et al. 2018)",
        summary="ResNet generator, PatchGAN critic, WGAN-GP + perceptual loss",
        network=NETWORK,
        loss_config=DeblurGANLossConfig,
        train_step=train_step,
        log_fields=LOG_FIELDS,
        size_multiple=SIZE_MULTIPLE,
        critic_config=CriticConfig,
        build_critic=Critic,
        perceptual_variant=weighted_perceptual,
        configs={
            "deblurgan.toml": "paper size, for a GPU",
            "deblurgan_cpu.toml": "reduced, about an hour on 2 CPU cores (made models/weights/deblurgan_blurkit.pt)",
            "deblurgan_small.toml": "tiny, CPU smoke runs and model comparisons",
        },
        comparison=Comparison(
            CONFIG_DIR / "deblurgan_small.toml", CONFIG_DIR / "deblurgan.toml", published="28.7 / 0.958 (CW-SSIM)"
        ),
    )
)
