"""The model families the training loop knows: one :class:`ModelFamily` record each, by name.

A family is what differs between the models the loop trains: the generator (and critic) it builds,
the ``[loss]`` dataclass it reads, its training step and the losses it logs, its checkpoint formats
(:class:`models.checkpoint.Network`). The loop calls ``family.train_step(ctx, batch)`` once per step
with one :class:`StepContext` (the networks, optimisers, loss configuration, precision and process
count) and the batch ``(blurred, sharp)`` in [-1, 1].

The registry is an index over the records that the modules of :mod:`models.families` register when
they are imported (:func:`register_family`); :func:`get_family` and :func:`family_names` import them
all first, so a new family is one new module there and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.checkpoint import Network
from models.training.distributed import average_gradients

#: The shipped configuration files (``models/configs/``).
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"

#: ``(blurred, sharp)``: a training batch, (B, 3, S, S) each, in [-1, 1].
Batch = tuple[torch.Tensor, torch.Tensor]
#: What a step returns: the generator's output for the batch and the losses to log.
StepResult = tuple[torch.Tensor, dict[str, float]]


@dataclass
class StepContext:
    """Everything a family's ``train_step(ctx, batch)`` works with.

    The loop builds one context per run and sets ``step`` (the steps done so far) before each call.

    Attributes:
        generator: the generator to train (wrapped for DistributedDataParallel on several processes).
        opt_g: its optimiser.
        loss: the run's ``[loss]`` dataclass (the family's own).
        critic: the critic, for families with one.
        opt_d: the critic's optimiser.
        perceptual: the perceptual loss ``perceptual(restored, sharp)``, when the loss uses one.
        amp: run forward passes under bf16 autocast (CUDA only).
        world: number of training processes (critic gradients are averaged over them).
        step: training steps done before this one.
    """

    generator: nn.Module
    opt_g: torch.optim.Optimizer
    loss: Any
    critic: nn.Module | None = None
    opt_d: torch.optim.Optimizer | None = None
    perceptual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    amp: bool = False
    world: int = 1
    step: int = 0

    def autocast(self) -> AbstractContextManager[Any]:
        """bf16 autocast when ``amp`` is on, else a context that changes nothing."""
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else nullcontext()

    def reduce_critic_grads(self) -> None:
        """Average the critic's gradients over the processes (nothing to do on one process)."""
        if self.critic is not None:
            average_gradients(self.critic, self.world)

    def critic_and_optimiser(self, family: str) -> tuple[nn.Module, torch.optim.Optimizer]:
        """The critic and its optimiser, for the step of a family that needs them.

        Raises:
            ValueError: the context has no critic or no critic optimiser.
        """
        if self.critic is None or self.opt_d is None:
            raise ValueError(f"{family} step: needs a critic and its optimiser")
        return self.critic, self.opt_d


StepFn = Callable[[StepContext, Batch], StepResult]


@dataclass(frozen=True)
class CostVariant:
    """A variant of a family costed (not trained) by ``benchmarks.model_compare``.

    Attributes:
        name: suffix of the row's key (``deblurganv2_dsc``).
        label: the row's name.
        generator: ``[generator]`` values changed from the paper-size config.
    """

    name: str
    label: str
    generator: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """How ``benchmarks.model_compare`` trains, costs and labels a family.

    Attributes:
        small_config: the CPU-sized config trained for the quality columns.
        paper_config: the paper-size config whose untrained network is costed.
        published: the published GoPro PSNR / SSIM, shown beside the measured ones.
        variants: further architectures costed beside the family's own.
    """

    small_config: Path
    paper_config: Path
    published: str = ""
    variants: tuple[CostVariant, ...] = ()


def no_perceptual(loss: Any) -> str:
    """The perceptual variant of a loss without a perceptual term: ``"none"``."""
    return "none"


@dataclass(frozen=True)
class ModelFamily:
    """Everything model-specific the training loop (and the model comparison) needs.

    Attributes:
        name: ``[model] name`` in a config; also the name of its registered ``network``.
        label: the model's name with its paper, e.g. ``"DeblurGAN (Kupyn et al. 2018)"``.
        summary: one line on the architecture and loss (``models.train --help``).
        network: the registered generator network (config class, checkpoint formats).
        loss_config: the ``[loss]`` dataclass.
        train_step: ``train_step(ctx, batch) -> (output, losses)``: one training step.
        log_fields: the columns of ``log.csv``.
        size_multiple: what crop sides must be multiples of (unless the generator config has a
            ``size_multiple`` property of its own).
        build_generator: a fresh generator for training (default: the network's module class).
        critic_config: the ``[critic]`` dataclass (None: no critic, and a ``[critic]`` section is an error).
        build_critic: a fresh critic from its config.
        perceptual_variant: the VGG variant a loss configuration needs, or ``"none"``.
        configs: shipped config files of the family (``models/configs/``) → one line for ``--help``.
        comparison: how ``benchmarks.model_compare`` shows it (None: not compared).
    """

    name: str
    label: str
    summary: str
    network: Network[Any]
    loss_config: type
    train_step: StepFn
    log_fields: tuple[str, ...]
    size_multiple: int = 1
    build_generator: Callable[[Any], nn.Module] | None = None
    critic_config: type | None = None
    build_critic: Callable[[Any], nn.Module] | None = None
    perceptual_variant: Callable[[Any], str] = no_perceptual
    configs: Mapping[str, str] = field(default_factory=dict)
    comparison: Comparison | None = None

    @property
    def generator_config(self) -> type:
        """The ``[generator]`` dataclass (the network's config)."""
        return self.network.config

    def new_generator(self, config: Any) -> nn.Module:
        """A fresh generator for training."""
        return (self.build_generator or self.network.module)(config)

    def multiple_of(self, generator_config: Any) -> int:
        """What the crop sides of a run with ``generator_config`` must be multiples of."""
        return int(getattr(generator_config, "size_multiple", self.size_multiple))


_FAMILIES: dict[str, ModelFamily] = {}


def register_family(family: ModelFamily) -> ModelFamily:
    """Add ``family`` to the registry (a module of :mod:`models.families` does it when imported).

    Raises:
        ValueError: a family of that name is already registered.
    """
    if family.name in _FAMILIES:
        raise ValueError(f"model family {family.name!r} is already registered")
    _FAMILIES[family.name] = family
    return family


def unregister_family(name: str) -> None:
    """Forget a registered family (a no-op for unknown names)."""
    _FAMILIES.pop(name, None)


def family_names() -> list[str]:
    """The names of all families, built-in ones included, in registration order."""
    _load_builtin()
    return list(_FAMILIES)


def get_family(name: str) -> ModelFamily:
    """The family registered as ``name``.

    Raises:
        ValueError: no such family (the message lists the known ones).
    """
    _load_builtin()
    if name not in _FAMILIES:
        raise ValueError(f"model family {name!r} is not one of {', '.join(_FAMILIES)}")
    return _FAMILIES[name]


def _load_builtin() -> None:
    from models.families import load_all

    load_all()
