"""A training configuration: the dataclasses of one TOML file, its loading, settings and schedule.

``[model] name`` picks the family (:mod:`models.training.families`); the family decides what
``[generator]``, ``[critic]`` and ``[loss]`` hold, and ``[data]``, ``[optim]``, ``[train]`` and
``[val]`` are shared by all (``docs/models.md`` lists every field). Unknown sections and keys, and
values of the wrong plain type, are errors. ``section.key=value`` settings (``--set``) change single
values before validation (:func:`apply_overrides`, the syntax of :mod:`blurkit.overrides`).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from blurkit.overrides import apply_settings
from models.data import SourceConfig
from models.training.families import family_names, get_family


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
    cache_mb: float = 0.0  # decoded images kept in memory per loader process (0: decode at every draw)


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
    (:func:`models.training.families.get_family`); ``critic`` is None for families without one.
    ``raw`` is the mapping the configuration was validated from (what checkpoints record).
    """

    generator: Any
    critic: Any
    data: DataConfig
    loss: Any
    optim: OptimConfig = OptimConfig()
    train: LoopConfig = LoopConfig()
    val: ValConfig | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
    model: str = "deblurgan"


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
    if name not in family_names():
        raise ValueError(f"config [model]: name {name!r} is not one of {', '.join(family_names())}")
    family = get_family(name)
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
    _check_sizes(cfg, family.multiple_of(cfg.generator))
    return cfg


def _check_sizes(cfg: TrainConfig, multiple: int) -> None:
    o = cfg.optim
    if o.steps < 1 or not 0 <= o.decay_start <= o.steps:
        raise ValueError(
            f"config [optim]: need steps >= 1 and 0 <= decay_start <= steps, got {o.steps}, {o.decay_start}"
        )
    if not cfg.data.cache_mb >= 0:
        raise ValueError(f"config [data]: cache_mb must be >= 0, got {cfg.data.cache_mb}")
    if cfg.data.crop % multiple:
        raise ValueError(
            f"config [data]: crop must be a multiple of {multiple} for {cfg.model}, got {cfg.data.crop}"
        )
    if cfg.val is not None and cfg.val.size % multiple:
        raise ValueError(
            f"config [val]: size must be a multiple of {multiple} for {cfg.model}, got {cfg.val.size}"
        )


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of a parsed TOML mapping with ``section.key=value`` settings applied.

    Values use TOML syntax (``5e-4``, ``true``, ``[0.9, 0.999]``, ``"mse"``; the forms
    :mod:`blurkit.overrides` accepts). Keys are checked later by :func:`config_from_dict`.

    >>> apply_overrides({"optim": {"lr": 1e-4}}, ["optim.lr=5e-4", "loss.pixel=l1"])
    {'optim': {'lr': 0.0005}, 'loss': {'pixel': 'l1'}}

    Raises:
        ValueError: a setting is not ``section.key=value``, or targets ``[[data.sources]]``.
    """
    for item in overrides:
        if item.partition("=")[0].replace(" ", "") == "data.sources":
            raise ValueError(f"--set {item!r}: data sources are set in the config file")
    return apply_settings(raw, overrides, depth=2)


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


def lr_schedule(optim: OptimConfig) -> Callable[[int], float]:
    """The multiplier of :func:`lr_factor` for the steps of ``optim`` (a ``LambdaLR`` function)."""

    def factor(step: int) -> float:
        return lr_factor(step, optim.steps, optim.decay_start)

    return factor
