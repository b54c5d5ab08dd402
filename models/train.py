"""Train a deblurring model: ``python -m models.train --config models/configs/deblurgan.toml --out runs/NAME``.

The TOML config holds every hyper-parameter (see ``docs/models.md``); ``[model] name`` picks the
family — ``deblurgan`` (default; WGAN-GP), ``deblurganv2`` (RaLSGAN, double-scale critic) or
``svrnn`` (pixel loss, no critic). One loop trains them all: data, schedule, checkpoints, resume,
validation and logs are shared, and each step calls the family's ``train_step`` function
(:class:`ModelFamily`). The command line says where things are and how long to run, and ``--set``
changes single config values for quick experiments:

    --config FILE        TOML configuration (required)
    --out DIR            run folder (default ``runs/<config stem>``)
    --resume             continue from ``DIR/checkpoint.pt``
    --data-root DIR      folder that relative data paths of the config are resolved against
                         (default: the current directory)
    --vgg-weights FILE   local VGG ``features`` state dict for the perceptual loss
    --device DEV         ``cuda``, ``cpu`` … (default: CUDA when available)
    --max-minutes M      wall-clock budget: checkpoint and stop cleanly when it is spent
    --no-progress        no tqdm bar
    --set S.K=V          override one config value (TOML syntax), e.g. ``--set optim.lr=5e-4``;
                         repeatable; the run's checkpoint records the config as changed

Multi-GPU: ``torchrun --nproc_per_node N -m models.train ...`` (DistributedDataParallel for the
generator, all-reduced critic gradients, each rank draws its share of every epoch, rank 0 logs,
validates and writes files). ``batch_size`` is per process.

The run folder receives ``checkpoint.pt`` (everything needed to resume: models, optimisers,
schedulers, step, RNG states; the data position is a function of the step), ``log.csv`` (losses per
logged step), ``val.csv`` (PSNR / SSIM-skimage on the validation crops), ``samples/step_NNNNNNN.png``
(rows of blurred | restored | sharp) and, when the run ends or stops, ``generator.pt`` (the latest
generator in the half-precision shipped format, loadable with ``models.load_deblurrer``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import os
import random
import sys
import time
import typing
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomllib
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from blurkit.io import atomic_write_bytes, write_image
from models import deblurganv2, nafnet, svrnn
from models.checkpoint import atomic_torch_save
from models.data import (
    MixedPairs,
    MixedSampler,
    SourceConfig,
    collate_mixed,
    draw_seed,
    find_pairs,
    materialize_batch,
    resolve_source,
    seed_worker,
    source_probabilities,
)
from models.deblurgan import (
    SIZE_MULTIPLE,
    TRAIN_KIND,
    Critic,
    CriticConfig,
    Generator,
    GeneratorConfig,
    save_generator,
)
from models.losses import (
    PerceptualLoss,
    content_loss,
    gradient_penalty,
    wgan_critic_loss,
    wgan_generator_loss,
)


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataConfig:
    """``[data]``: sources, mixing, crops, loader."""

    sources: tuple[SourceConfig, ...]
    synthetic_to_real: float = 2.0
    blur_preset: str = "realistic"
    blur: Mapping[str, Any] = field(default_factory=dict)  # preset fields to change, e.g. {length = [2, 30]}
    crop: int = 256
    margin: int = 32
    batch_size: int = 1
    num_workers: int = 2
    epoch_size: int = 0  # 0: the total number of items of all sources
    seed: int = 0


@dataclass(frozen=True)
class LossConfig:
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


@dataclass(frozen=True)
class OptimConfig:
    """``[optim]``: Adam, constant learning rate then linear decay to 0 at ``steps``."""

    steps: int = 10000
    decay_start: int = 5000
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)


@dataclass(frozen=True)
class LoopConfig:
    """``[train]``: precision and the periods of logging, validation and checkpoints (in steps)."""

    amp: bool = True
    log_every: int = 10
    val_every: int = 500
    ckpt_every: int = 500


@dataclass(frozen=True)
class ValConfig:
    """``[val]``: a fixed validation set of centre crops (``kind`` as in data sources; absent: none)."""

    kind: str = "on_the_fly"
    root: str = ""
    count: int = 8
    size: int = 256
    seed: int = 12345
    grid_rows: int = 4


@dataclass(frozen=True)
class TrainConfig:
    """A whole training configuration (one TOML file).

    ``generator``, ``critic`` and ``loss`` hold the dataclasses of the ``model`` family
    (:data:`FAMILIES`); ``critic`` is None for families without one.
    """

    generator: Any
    critic: Any
    data: DataConfig
    loss: Any = LossConfig()
    optim: OptimConfig = OptimConfig()
    train: LoopConfig = LoopConfig()
    val: ValConfig | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
    model: str = "deblurgan"


# --------------------------------------------------------------------------------------------------
# Model families: what differs between the models the loop trains
# --------------------------------------------------------------------------------------------------
StepFn = Callable[..., tuple[torch.Tensor, dict[str, float]]]


@dataclass(frozen=True)
class ModelFamily:
    """Everything model-specific the training loop needs.

    ``step(generator, critics, opt_g, opt_d, x, y, loss, perceptual, autocast, reduce_critic_grads)``
    performs one training step (critic and generator updates, ``x``/``y`` blurred/sharp in [-1, 1])
    and returns the generator output and the losses to log; ``reduce_critic_grads()`` averages critic
    gradients over processes (a no-op on one process).
    """

    name: str
    generator_config: type
    critic_config: type | None
    loss_config: type
    build_generator: Callable[[Any], nn.Module]
    build_critic: Callable[[Any], nn.Module] | None
    step: StepFn
    save_generator: Callable[[nn.Module, Path], None]
    perceptual_variant: Callable[[Any], str]
    size_multiple: int
    train_kind: str
    log_fields: tuple[str, ...]


def wgan_gp_step(
    generator: nn.Module,
    critics: list[nn.Module],
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer | None,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: LossConfig,
    perceptual: nn.Module | None,
    autocast: Callable[[], Any],
    reduce_critic_grads: Callable[[], None],
) -> tuple[torch.Tensor, dict[str, float]]:
    """DeblurGAN's step: ``critic_steps`` WGAN-GP critic updates on one generator output, then the
    generator update on ``-adversarial_weight · E[D(fake)] + perceptual_weight · perceptual +
    pixel_weight · pixel``. With ``adversarial_weight == 0`` the critic is neither trained nor
    evaluated (its losses are logged as NaN)."""
    if opt_d is None or len(critics) != 1:
        raise ValueError("deblurgan step: needs one critic and its optimiser")
    critic = critics[0]
    with autocast():
        fake = generator(x)
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
            with autocast():
                loss_wd = wgan_critic_loss(critic(y), critic(fake32.detach()))
            gp = gradient_penalty(critic, y, fake32)
            loss_d = loss_wd + loss.gp_weight * gp
            loss_d.backward()
            reduce_critic_grads()
            opt_d.step()
        for p in critic.parameters():
            p.requires_grad_(False)
    # generator
    opt_g.zero_grad(set_to_none=True)
    with autocast():
        if adversarial:
            loss_adv = wgan_generator_loss(critic(fake))
        loss_pix, loss_p = content_loss(fake, y, loss.pixel, perceptual)
    loss_g = (
        (loss.adversarial_weight * loss_adv if adversarial else 0.0)
        + loss.perceptual_weight * loss_p
        + loss.pixel_weight * loss_pix
    )
    loss_g.backward()
    opt_g.step()
    return fake, {
        "loss_d": float(loss_d.detach()),
        "gp": float(gp.detach()),
        "loss_adv": float(loss_adv.detach()),
        "loss_perceptual": float(loss_p.detach()),
        "loss_pixel": float(loss_pix.detach()),
        "loss_g": float(loss_g.detach()),
    }


def perceptual_if_weighted(loss: Any) -> str:
    """The VGG variant of a loss configuration, or ``"none"`` when its perceptual weight is 0."""
    return str(loss.perceptual) if loss.perceptual_weight > 0 else "none"


LOG_FIELDS = [
    "step",
    "epoch",
    "lr",
    "loss_d",
    "gp",
    "loss_adv",
    "loss_perceptual",
    "loss_pixel",
    "loss_g",
    "l1",
    "seconds",
]

#: Logged losses of the families trained with the pixel-loss step (``svrnn.train_step``).
PIXEL_LOG_FIELDS = ("step", "epoch", "lr", "loss_pixel", "loss_perceptual", "loss_g", "l1", "seconds")


def pixel_step_perceptual(loss: svrnn.SVRNNLossConfig) -> str:
    """The VGG variant of a pixel-step loss configuration, or ``"none"`` when it uses none."""
    return loss.perceptual if loss.uses_perceptual else "none"


#: The trainable model families, by ``[model] name``.
FAMILIES: dict[str, ModelFamily] = {
    "deblurgan": ModelFamily(
        name="deblurgan",
        generator_config=GeneratorConfig,
        critic_config=CriticConfig,
        loss_config=LossConfig,
        build_generator=Generator,
        build_critic=Critic,
        step=wgan_gp_step,
        save_generator=save_generator,  # type: ignore[arg-type]
        perceptual_variant=perceptual_if_weighted,
        size_multiple=SIZE_MULTIPLE,
        train_kind=TRAIN_KIND,
        log_fields=tuple(LOG_FIELDS),
    ),
    "deblurganv2": ModelFamily(
        name="deblurganv2",
        generator_config=deblurganv2.GeneratorV2Config,
        critic_config=deblurganv2.DoubleCriticConfig,
        loss_config=deblurganv2.V2LossConfig,
        build_generator=deblurganv2.build_generator,
        build_critic=deblurganv2.build_critic,
        step=deblurganv2.train_step,
        save_generator=deblurganv2.save_generator,
        perceptual_variant=perceptual_if_weighted,
        size_multiple=deblurganv2.SIZE_MULTIPLE,
        train_kind=deblurganv2.TRAIN_KIND,
        log_fields=(
            "step",
            "epoch",
            "lr",
            "loss_d",
            "loss_adv",
            "loss_pixel",
            "loss_perceptual",
            "loss_g",
            "l1",
            "seconds",
        ),
    ),
    "svrnn": ModelFamily(
        name="svrnn",
        generator_config=svrnn.SVRNNConfig,
        critic_config=None,
        loss_config=svrnn.SVRNNLossConfig,
        build_generator=svrnn.build_generator,
        build_critic=None,
        step=svrnn.train_step,
        save_generator=svrnn.save_generator,
        perceptual_variant=pixel_step_perceptual,
        size_multiple=svrnn.SIZE_MULTIPLE,
        train_kind=svrnn.TRAIN_KIND,
        log_fields=PIXEL_LOG_FIELDS,
    ),
    "nafnet": ModelFamily(
        name="nafnet",
        generator_config=nafnet.NAFNetConfig,
        critic_config=None,
        loss_config=svrnn.SVRNNLossConfig,
        build_generator=nafnet.build_generator,
        build_critic=None,
        step=svrnn.train_step,
        save_generator=nafnet.save_generator,
        perceptual_variant=pixel_step_perceptual,
        size_multiple=nafnet.SIZE_MULTIPLE,
        train_kind=nafnet.TRAIN_KIND,
        log_fields=PIXEL_LOG_FIELDS,
    ),
}


def family_of(config: TrainConfig) -> ModelFamily:
    """The :class:`ModelFamily` of a configuration."""
    if config.model not in FAMILIES:
        raise ValueError(f"config [model]: name {config.model!r} is not one of {', '.join(FAMILIES)}")
    return FAMILIES[config.model]


def _check_type(section: str, key: str, value: Any, hint: Any) -> None:
    """Refuse a value of the wrong plain type (``steps = "100"``, ``lr = true``); composite hints
    (tuples, unions other than ``X | None``) are left to the dataclass."""
    args = typing.get_args(hint)
    if type(None) in args:
        if value is None:
            return
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            return
        hint = rest[0]
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
    }.get(hint)
    if ok is not None and not ok(value):
        raise ValueError(f"config [{section}]: {key} must be {hint.__name__}, got {value!r}")


def _build(cls: type, section: str, values: Mapping[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"config [{section}]: unknown keys {unknown} (known: {sorted(names)})")
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        _check_type(section, key, value, hints.get(key))
    return cls(**values)


def config_from_dict(raw: Mapping[str, Any]) -> TrainConfig:
    """Validate a parsed TOML mapping into a :class:`TrainConfig` (unknown keys are errors)."""
    sections = {"model", "generator", "critic", "data", "loss", "optim", "train", "val"}
    unknown = sorted(set(raw) - sections)
    if unknown:
        raise ValueError(f"config: unknown sections {unknown} (known: {sorted(sections)})")
    model = dict(raw.get("model", {}))
    name = model.pop("name", "deblurgan")
    if model:
        raise ValueError(f"config [model]: unknown keys {sorted(model)} (known: ['name'])")
    if name not in FAMILIES:
        raise ValueError(f"config [model]: name {name!r} is not one of {', '.join(FAMILIES)}")
    family = FAMILIES[name]
    if family.critic_config is None and "critic" in raw:
        raise ValueError(f"config [critic]: model {name!r} has no critic; remove the section")
    data = dict(raw.get("data", {}))
    sources = tuple(_build(SourceConfig, "data.sources", s) for s in data.pop("sources", []))
    if not sources:
        raise ValueError("config [data]: at least one [[data.sources]] entry is needed")
    optim = dict(raw.get("optim", {}))
    if "betas" in optim:
        optim["betas"] = tuple(float(b) for b in optim["betas"])
    cfg = TrainConfig(
        generator=_build(family.generator_config, "generator", raw.get("generator", {})),
        critic=(
            _build(family.critic_config, "critic", raw.get("critic", {}))
            if family.critic_config is not None
            else None
        ),
        data=_build(DataConfig, "data", {**data, "sources": sources}),
        loss=_build(family.loss_config, "loss", raw.get("loss", {})),
        optim=_build(OptimConfig, "optim", optim),
        train=_build(LoopConfig, "train", raw.get("train", {})),
        val=_build(ValConfig, "val", raw["val"]) if "val" in raw else None,
        raw=dict(raw),
        model=name,
    )
    multiple = int(getattr(cfg.generator, "size_multiple", family.size_multiple))
    o = cfg.optim
    if o.steps < 1 or not 0 <= o.decay_start <= o.steps:
        raise ValueError(
            f"config [optim]: need steps >= 1 and 0 <= decay_start <= steps, got {o.steps}, {o.decay_start}"
        )
    if cfg.data.crop % multiple:
        raise ValueError(
            f"config [data]: crop must be a multiple of {multiple} for {name}, got {cfg.data.crop}"
        )
    if cfg.val is not None and cfg.val.size % multiple:
        raise ValueError(
            f"config [val]: size must be a multiple of {multiple} for {name}, got {cfg.val.size}"
        )
    return cfg


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of a parsed TOML mapping with ``section.key=value`` settings applied.

    Values use TOML syntax (``5e-4``, ``true``, ``[0.9, 0.999]``, ``"mse"``); a value that is not
    valid TOML is taken as a string. Keys are checked later by :func:`config_from_dict`.

    >>> apply_overrides({"optim": {"lr": 1e-4}}, ["optim.lr=5e-4", "loss.pixel=l1"])
    {'optim': {'lr': 0.0005}, 'loss': {'pixel': 'l1'}}

    Raises:
        ValueError: a setting is not ``section.key=value``, or targets ``[[data.sources]]``.
    """
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in raw.items()}
    for item in overrides:
        key, sep, text = item.partition("=")
        section, dot, field = key.strip().partition(".")
        if not sep or not dot or not section or not field or "." in field:
            raise ValueError(f"setting {item!r}: expected SECTION.KEY=VALUE, e.g. optim.lr=5e-4")
        if (section, field) == ("data", "sources"):
            raise ValueError(f"setting {item!r}: data sources are set in the config file")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        table = out.setdefault(section, {})
        if not isinstance(table, dict):
            raise ValueError(f"setting {item!r}: {section!r} is not a config section")
        table[field] = value
    return out


def load_config(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> TrainConfig:
    """Read and validate a TOML training configuration, with ``section.key=value`` ``overrides``."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such config file")
    with p.open("rb") as f:
        try:
            raw = tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{p}: not valid TOML: {exc}") from None
    return config_from_dict(apply_overrides(raw, overrides))


def lr_factor(step: int, steps: int, decay_start: int) -> float:
    """Learning-rate multiplier: 1 until ``decay_start``, then linear to 0 at ``steps``.

    >>> [lr_factor(s, 10, 6) for s in (0, 6, 8, 10)]
    [1.0, 1.0, 0.5, 0.0]
    """
    if step < decay_start:
        return 1.0
    return max(0.0, (steps - step) / max(1, steps - decay_start))


# --------------------------------------------------------------------------------------------------
# RNG state (checkpointed)
# --------------------------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """Python, NumPy (legacy global, for third-party code), torch CPU and CUDA RNG states."""
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # noqa: NPY002 - saved, not drawn from
    return {
        "python": random.getstate(),
        "numpy": {
            "name": name,
            "keys": np.asarray(keys).tolist(),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    keys = np.asarray(n["keys"], dtype=np.uint32)
    np.random.set_state((n["name"], keys, n["pos"], n["has_gauss"], n["cached"]))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------
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
    from blurkit.io import list_images, read_image

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

    def load(p: Path) -> torch.Tensor:
        return _centre_crop(torch.from_numpy(read_image(p).transpose(2, 0, 1).copy()), val.size)

    sharp = torch.stack([load(sharp_paths[i]) for i in picks]).to(device)
    if val.kind == "on_the_fly":
        from blurkit.synth import blur_batch

        seeds = [draw_seed(val.seed, 0, i) for i in range(n)]
        blurred, _, _ = blur_batch(sharp, seeds, preset=preset, overrides=overrides)
    else:
        blurred = torch.stack([load(blur_paths[i]) for i in picks if blur_paths[i] is not None]).to(device)  # type: ignore[arg-type]
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

    def mean(v: Any) -> float:
        t = torch.as_tensor(v, dtype=torch.float64).reshape(-1)
        return float(t[torch.isfinite(t)].mean()) if torch.isfinite(t).any() else math.inf

    metrics = {
        "psnr": mean(psnr(restored, sharp)),
        "ssim": mean(ssim(restored, sharp, variant="skimage")),
        "psnr_blurred": mean(psnr(blurred, sharp)),
        "ssim_blurred": mean(ssim(blurred, sharp, variant="skimage")),
    }
    return metrics, restored


def write_grid(
    path: Path, blurred: torch.Tensor, restored: torch.Tensor, sharp: torch.Tensor, rows: int
) -> None:
    """PNG grid: one row per image, columns blurred | restored | sharp."""
    n = min(rows, blurred.shape[0])
    grid = torch.cat([torch.cat([blurred[i], restored[i], sharp[i]], dim=2) for i in range(n)], dim=1)
    write_image(path, grid.clamp(0, 1).permute(1, 2, 0).cpu().numpy())


# --------------------------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------------------------
VAL_FIELDS = ["step", "psnr", "ssim", "psnr_blurred", "ssim_blurred"]


def _append_csv(path: Path, fields: Sequence[str], row: Mapping[str, Any]) -> None:
    new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(fields))
        if new:
            w.writeheader()
        w.writerow({k: row.get(k, "") for k in fields})
        f.flush()


def _truncate_csv(path: Path, last_step: int) -> None:
    """Drop rows logged after ``last_step`` (they are redone after a resume)."""
    if not path.exists():
        return
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        rows = [r for r in reader if int(r["step"]) <= last_step]
    lines = [",".join(fields)] + [",".join(str(r[k]) for k in fields) for r in rows]
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What :func:`train` did."""

    step: int
    finished: bool
    out: Path
    history: list[dict[str, float]]


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def _unwrap(m: nn.Module) -> nn.Module:
    return m.module if isinstance(m, nn.parallel.DistributedDataParallel) else m


def train(
    config: TrainConfig,
    out: str | os.PathLike[str],
    resume: bool = False,
    device: str | torch.device | None = None,
    vgg_weights: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
    max_minutes: float | None = None,
    progress: bool = True,
    stop_at: int | None = None,
) -> TrainResult:
    """Train (or continue training) the configured model; see the module docstring for outputs.

    Args:
        config: the configuration.
        out: run folder.
        resume: continue from ``out/checkpoint.pt`` (it must exist).
        device: training device (CUDA when available if None; ``cuda:LOCAL_RANK`` under torchrun).
        vgg_weights: local VGG weights for the perceptual loss (else ``BLURKIT_VGG_WEIGHTS``, else
            torchvision's download).
        data_root: folder relative data paths are resolved against.
        max_minutes: wall-clock budget; when spent, checkpoint and return ``finished=False``.
        progress: show a tqdm bar (rank 0).
        stop_at: stop (with a checkpoint) after this step, as if interrupted (for tests and staging).

    Returns:
        The last step, whether the schedule completed, the run folder and the per-step loss history
        of this call (rank 0).

    Raises:
        FileExistsError: ``out`` already holds a checkpoint and ``resume`` is False (a finished or
            interrupted run is never overwritten).
    """
    from tqdm import tqdm

    started = time.monotonic()
    rank, world, local_rank = _dist_info()
    distributed = world > 1
    if device is None:
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if distributed:
        if dev.type == "cuda":
            dev = torch.device("cuda", local_rank)
            torch.cuda.set_device(dev)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop sizes: let cuDNN pick the fastest kernels
    main = rank == 0
    out_dir = Path(out)
    ckpt_path = out_dir / "checkpoint.pt"
    if not resume and ckpt_path.exists():
        raise FileExistsError(
            f"{out_dir}: already holds a training run (checkpoint.pt); continue it with --resume, "
            "or train into another --out"
        )
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
    root = Path(data_root) if data_root is not None else None
    d, lc, oc, tc = config.data, config.loss, config.optim, config.train
    family = family_of(config)

    torch.manual_seed(d.seed)  # identical initial weights on every rank
    gen = family.build_generator(config.generator).to(dev)
    critic = family.build_critic(config.critic).to(dev) if family.build_critic is not None else None
    opt_g = torch.optim.Adam(gen.parameters(), lr=oc.lr, betas=oc.betas)
    opt_d = torch.optim.Adam(critic.parameters(), lr=oc.lr, betas=oc.betas) if critic is not None else None

    def schedule(s: int) -> float:
        return lr_factor(s, oc.steps, oc.decay_start)

    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, schedule)
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, schedule) if opt_d is not None else None
    variant = family.perceptual_variant(lc)
    perceptual = PerceptualLoss(variant, vgg_weights).to(dev) if variant != "none" else None

    sources = [resolve_source(s, root) for s in d.sources]
    probs = source_probabilities([s.config for s in sources], d.synthetic_to_real)
    epoch_size = d.epoch_size or sum(len(s) for s in sources)
    sampler = MixedSampler([len(s) for s in sources], probs.tolist(), epoch_size, d.seed, rank, world)
    per_rank = epoch_size // world
    batches_per_epoch = per_rank // d.batch_size
    if batches_per_epoch < 1:
        raise ValueError(
            f"config [data]: epoch_size {epoch_size} gives no full batch of {d.batch_size} per process"
        )
    loader = DataLoader(
        MixedPairs(sources, d.crop, d.margin),
        batch_size=d.batch_size,
        sampler=sampler,
        num_workers=d.num_workers,
        collate_fn=collate_mixed,
        worker_init_fn=seed_worker,
        generator=torch.Generator().manual_seed(d.seed),
        drop_last=True,
        pin_memory=dev.type == "cuda",
        persistent_workers=False,
    )

    step = 0
    if resume:
        if not ckpt_path.is_file():
            raise FileNotFoundError(f"{ckpt_path}: no checkpoint to resume from")
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if ck.get("kind") != family.train_kind:
            raise ValueError(f"{ckpt_path}: not a training checkpoint of a {family.name} model")
        gen.load_state_dict(ck["generator"])
        opt_g.load_state_dict(ck["opt_g"])
        sched_g.load_state_dict(ck["sched_g"])
        if critic is not None and opt_d is not None and sched_d is not None:
            critic.load_state_dict(ck["critic"])
            opt_d.load_state_dict(ck["opt_d"])
            sched_d.load_state_dict(ck["sched_d"])
        step = int(ck["step"])
        set_rng_state(
            ck["rng"][rank] if isinstance(ck["rng"], list) and rank < len(ck["rng"]) else ck["rng"][0]
        )
        if main:
            _truncate_csv(out_dir / "log.csv", step)
            _truncate_csv(out_dir / "val.csv", step)

    gen_model: nn.Module = gen
    if distributed:
        gen_model = nn.parallel.DistributedDataParallel(
            gen, device_ids=[dev.index] if dev.type == "cuda" else None
        )

    use_amp = tc.amp and dev.type == "cuda"

    def autocast() -> Any:
        return torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else nullcontext()

    val_data = (
        build_validation(config.val, root, d.blur_preset, dev, d.blur)
        if (main and config.val is not None and config.val.root)
        else None
    )

    def save_checkpoint() -> None:
        states = [rng_state()]
        if distributed:
            gathered: list[Any] = [None] * world
            dist.all_gather_object(gathered, states[0])
            states = gathered
        if main:
            atomic_torch_save(
                {
                    "kind": family.train_kind,
                    "model": family.name,
                    "config": dict(config.raw),
                    "generator_config": dataclasses.asdict(config.generator),
                    "generator": gen.state_dict(),
                    "critic": critic.state_dict() if critic is not None else {},
                    "opt_g": opt_g.state_dict(),
                    "opt_d": opt_d.state_dict() if opt_d is not None else {},
                    "sched_g": sched_g.state_dict(),
                    "sched_d": sched_d.state_dict() if sched_d is not None else {},
                    "step": step,
                    "rng": states,
                },
                ckpt_path,
            )

    def run_validation() -> None:
        if val_data is None:
            return
        metrics, restored = validate(gen, *val_data)
        _append_csv(
            out_dir / "val.csv", VAL_FIELDS, {"step": step, **{k: f"{v:.4f}" for k, v in metrics.items()}}
        )
        write_grid(
            out_dir / "samples" / f"step_{step:07d}.png",
            val_data[0],
            restored,
            val_data[1],
            config.val.grid_rows if config.val else 4,
        )
        bar.write(
            f"step {step}: val PSNR {metrics['psnr']:.2f} dB (blurred {metrics['psnr_blurred']:.2f}), SSIM {metrics['ssim']:.4f}"
        )

    critics = [critic] if critic is not None else []
    warmup = getattr(lc, "content_warmup", 0)
    content_only = dataclasses.replace(lc, adversarial_weight=0.0) if warmup else lc

    def loss_at(done: int) -> Any:
        """The loss configuration of the step after ``done`` steps (content only while warming up)."""
        return content_only if done < warmup else lc

    def reduce_critic_grads() -> None:
        if not distributed:
            return
        for c in critics:
            for p in c.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= world

    history: list[dict[str, float]] = []
    bar = tqdm(
        total=oc.steps, initial=step, disable=not (main and progress), dynamic_ncols=True, file=sys.stderr
    )
    gen_model.train()
    for c in critics:
        c.train()
    finished = step >= oc.steps
    stop = False
    while not finished and not stop:
        epoch = step // batches_per_epoch
        sampler.set_position(epoch, (step % batches_per_epoch) * d.batch_size)
        for batch in loader:
            blurred, sharp = materialize_batch(batch, dev, d.margin, d.blur_preset, d.blur)
            x, y = blurred * 2 - 1, sharp * 2 - 1
            fake, losses = family.step(
                gen_model,
                critics,
                opt_g,
                opt_d,
                x,
                y,
                loss_at(step),
                perceptual,
                autocast,
                reduce_critic_grads,
            )
            sched_g.step()
            if sched_d is not None:
                with warnings.catch_warnings():
                    # during a content warm-up the critic's optimiser does not step, but its
                    # schedule keeps pace with the generator's
                    warnings.filterwarnings("ignore", r"Detected call of `lr_scheduler\.step\(\)`")
                    sched_d.step()
            step += 1
            bar.update(1)
            record = {
                "step": step,
                "epoch": epoch,
                "lr": opt_g.param_groups[0]["lr"],
                **losses,
                "l1": float((fake.detach().float() - y).abs().mean() / 2),
                "seconds": round(time.monotonic() - started, 2),
            }
            if main:
                history.append(record)
                if step % tc.log_every == 0 or step == oc.steps:
                    _append_csv(out_dir / "log.csv", family.log_fields, record)
                    bar.set_postfix(
                        d=f"{record.get('loss_d', 0.0):.3f}",
                        g=f"{record['loss_g']:.3f}",
                        l1=f"{record['l1']:.4f}",
                    )
                if tc.val_every and step % tc.val_every == 0:
                    run_validation()
            finished = step >= oc.steps
            over_time = max_minutes is not None and (time.monotonic() - started) / 60.0 >= max_minutes
            if distributed:
                flag = torch.tensor([float(over_time)], device=dev)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                over_time = bool(flag.item())
            stop = over_time or (stop_at is not None and step >= stop_at)
            if finished or stop or (tc.ckpt_every and step % tc.ckpt_every == 0):
                save_checkpoint()
            if finished or stop:
                break
    bar.close()
    if main:
        if finished and not (tc.val_every and step % tc.val_every == 0):
            run_validation()
        family.save_generator(gen, out_dir / "generator.pt")  # the latest generator, also after a stop
        if not finished:
            print(f"stopped at step {step} of {oc.steps}; resume with --resume", file=sys.stderr)
    if distributed:
        dist.barrier()
    return TrainResult(step=step, finished=finished, out=out_dir, history=history)


TRAIN_EPILOG = """\
model families ([model] name in the config):
  deblurgan     DeblurGAN (Kupyn et al. 2018): ResNet generator, PatchGAN critic, WGAN-GP + perceptual loss
  deblurganv2   DeblurGAN-v2 (Kupyn et al. 2019): FPN over MobileNetV2, double-scale RaLSGAN critic
  svrnn         spatially variant RNN (Zhang et al. 2018): recurrent sweeps as a parallel scan, pixel loss
  nafnet        NAFNet (Chen et al. 2022): U-Net of gated blocks without activations, pixel loss

shipped configs (models/configs/):
  deblurgan.toml          paper size, for a GPU
  deblurgan_cpu.toml      reduced, about an hour on 2 CPU cores (made models/weights/deblurgan_blurkit.pt)
  deblurgan_small.toml    tiny, CPU smoke runs and model comparisons
  deblurganv2.toml        the paper's MobileNet model, for a GPU
  deblurganv2_small.toml  CPU smoke runs and model comparisons
  svrnn.toml              the authors' released network (9.23 M parameters), for a GPU
  svrnn_cpu.toml          compact, about 20 minutes on 2 CPU cores (made models/weights/svrnn_blurkit.pt)
  svrnn_small.toml        compact, CPU smoke runs and model comparisons
  nafnet_cpu.toml         small NAFNet on the video preset, CPU budget (the sim-to-real study's network)
Data sources, fields and recipes: docs/models.md.

example:
  python -m models.train --config models/configs/svrnn_small.toml --data-root DATA --out runs/rnn
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    ap = argparse.ArgumentParser(
        prog="python -m models.train",
        description="Train a deblurring model from a TOML config.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=TRAIN_EPILOG,
    )
    ap.add_argument("--config", required=True, help="TOML configuration file")
    ap.add_argument("--out", default=None, help="run folder (default runs/<config stem>)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    ap.add_argument("--data-root", default=None, help="folder relative data paths are resolved against")
    ap.add_argument(
        "--vgg-weights",
        default=None,
        help="local VGG features state dict (else $BLURKIT_VGG_WEIGHTS, else download)",
    )
    ap.add_argument("--device", default=None, help="cuda, cpu, ... (default: CUDA when available)")
    ap.add_argument(
        "--max-minutes", type=float, default=None, help="wall-clock budget; checkpoint and stop when spent"
    )
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config value (TOML syntax), e.g. --set optim.lr=5e-4; repeatable",
    )
    args = ap.parse_args(argv)
    try:
        config = load_config(args.config, args.set)
        out = args.out or str(Path("runs") / Path(args.config).stem)
        result = train(
            config,
            out,
            resume=args.resume,
            device=args.device,
            vgg_weights=args.vgg_weights,
            data_root=args.data_root,
            max_minutes=args.max_minutes,
            progress=not args.no_progress,
        )
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{'finished' if result.finished else 'stopped'} at step {result.step}; outputs in {result.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
