"""What a run is at a given step — networks, optimisers, schedules, step, RNG states — and its checkpoint.

``checkpoint.pt`` holds everything needed to resume: ``kind`` (the family's training tag),
``model``, ``config`` (the raw configuration as run), ``generator_config``, the state dicts of
``generator``, ``critic``, ``opt_g``, ``opt_d``, ``sched_g`` and ``sched_d`` (empty for a family
without a critic), ``step`` and ``rng`` (the Python, NumPy, torch and CUDA RNG states of every
rank). The data position is a function of the step, so nothing else is needed. :data:`PARTS` is the
one list both :func:`save_checkpoint` and :func:`load_checkpoint` go through, so the two agree key
by key.
"""

from __future__ import annotations

import dataclasses
import random
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.checkpoint import atomic_torch_save
from models.training.config import TrainConfig, lr_schedule
from models.training.distributed import Processes, gather_objects
from models.training.families import ModelFamily

#: The attributes of :class:`TrainState` saved as state dicts, under these checkpoint keys.
PARTS = ("generator", "critic", "opt_g", "opt_d", "sched_g", "sched_d")


@dataclass
class TrainState:
    """The trained objects of a run and the number of steps done (the critic parts are None for
    families without a critic)."""

    generator: nn.Module
    opt_g: torch.optim.Optimizer
    sched_g: torch.optim.lr_scheduler.LRScheduler
    critic: nn.Module | None = None
    opt_d: torch.optim.Optimizer | None = None
    sched_d: torch.optim.lr_scheduler.LRScheduler | None = None
    step: int = 0

    def advance(self) -> None:
        """After an optimiser step: step the schedules and count the step."""
        self.sched_g.step()
        if self.sched_d is not None:
            with warnings.catch_warnings():
                # during a content warm-up the critic's optimiser does not step, but its
                # schedule keeps pace with the generator's
                warnings.filterwarnings("ignore", r"Detected call of `lr_scheduler\.step\(\)`")
                self.sched_d.step()
        self.step += 1

    def train_mode(self) -> None:
        """Put the networks in training mode."""
        self.generator.train()
        if self.critic is not None:
            self.critic.train()


def new_state(family: ModelFamily, config: TrainConfig, device: torch.device) -> TrainState:
    """Fresh networks (identical on every rank: seeded with ``data.seed``), Adam optimisers and
    the learning-rate schedule of ``[optim]``."""
    oc = config.optim
    torch.manual_seed(config.data.seed)
    gen = family.new_generator(config.generator).to(device)
    critic = family.build_critic(config.critic).to(device) if family.build_critic is not None else None
    opt_g = torch.optim.Adam(gen.parameters(), lr=oc.lr, betas=oc.betas)
    opt_d = torch.optim.Adam(critic.parameters(), lr=oc.lr, betas=oc.betas) if critic is not None else None
    sched = torch.optim.lr_scheduler.LambdaLR
    return TrainState(
        generator=gen,
        opt_g=opt_g,
        sched_g=sched(opt_g, lr_schedule(oc)),
        critic=critic,
        opt_d=opt_d,
        sched_d=sched(opt_d, lr_schedule(oc)) if opt_d is not None else None,
    )


def save_checkpoint(
    path: Path, state: TrainState, family: ModelFamily, config: TrainConfig, procs: Processes
) -> None:
    """Write ``checkpoint.pt`` atomically (rank 0; every rank must call it: the RNG states are gathered)."""
    states = gather_objects(rng_state(), procs)
    if not procs.main:
        return
    parts = {key: _state_dict(getattr(state, key)) for key in PARTS}
    checkpoint = {
        "kind": family.network.train_kind,
        "model": family.name,
        "config": dict(config.raw),
        "generator_config": dataclasses.asdict(config.generator),
        **parts,
        "step": state.step,
        "rng": states,
    }
    atomic_torch_save(checkpoint, path)


def load_checkpoint(path: Path, state: TrainState, family: ModelFamily, rank: int) -> None:
    """Restore ``state`` and this rank's RNG states from ``checkpoint.pt``.

    Raises:
        FileNotFoundError: there is no checkpoint.
        ValueError: it is not a training checkpoint of ``family``.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint to resume from")
    ck = torch.load(path, map_location="cpu", weights_only=True)
    if ck.get("kind") != family.network.train_kind:
        raise ValueError(f"{path}: not a training checkpoint of a {family.name} model")
    for key in PARTS:
        part = getattr(state, key)
        if part is not None:
            part.load_state_dict(ck[key])
    state.step = int(ck["step"])
    rng = ck["rng"]
    set_rng_state(rng[rank] if isinstance(rng, list) and rank < len(rng) else rng[0])


def apply_learning_rate(state: TrainState, lr: float) -> float | None:
    """Make ``lr`` the base learning rate of the restored schedules (a resume under a changed
    ``optim.lr``); the rates of the next steps follow the schedule from it. Returns the checkpoint's
    base rate when it differed, else ``None`` (nothing changed)."""
    old = None
    for opt, sched in ((state.opt_g, state.sched_g), (state.opt_d, state.sched_d)):
        if opt is None or not isinstance(sched, torch.optim.lr_scheduler.LambdaLR):
            continue
        if any(b != lr for b in sched.base_lrs):
            old = float(sched.base_lrs[0])
        sched.base_lrs = [lr for _ in sched.base_lrs]
        for group, factor in zip(opt.param_groups, sched.lr_lambdas, strict=True):
            group["initial_lr"] = lr
            group["lr"] = lr * factor(sched.last_epoch)
    return old


def _state_dict(part: Any) -> dict[str, Any]:
    return part.state_dict() if part is not None else {}


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
