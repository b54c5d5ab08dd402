"""Single-file network checkpoints shared by the model families.

A shipped file holds ``{"kind", "format_version", "config", "state_dict"}``: the architecture's
frozen-dataclass config and its weights (half precision by default; integer buffers kept as they
are). Training checkpoints (``models.train``) hold the generator under ``generator_config`` and
``generator``; :func:`read_network` accepts both.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from blurkit.io import temp_file_for

N = TypeVar("N", bound=nn.Module)


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save`` to a temporary file in the destination folder, then ``os.replace``."""
    p = Path(path)
    fd, tmp = temp_file_for(p)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_network(net: nn.Module, kind: str, path: str | os.PathLike[str], half: bool = True) -> None:
    """Write ``net`` (which has a dataclass ``config``) in the shipped single-file format."""
    dtype = torch.float16 if half else torch.float32
    state = {
        k: v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().cpu()
        for k, v in net.state_dict().items()
    }
    config = dataclasses.asdict(net.config)  # type: ignore[call-overload]
    atomic_torch_save({"kind": kind, "format_version": 1, "config": config, "state_dict": state}, path)


def network_from_state(
    build: Callable[[Any], N], config_cls: type, config: Mapping[str, Any], state: Mapping[str, torch.Tensor],
    what: str,
) -> N:
    """A float32 network ``build(config_cls(**config))`` with ``state`` loaded (any float dtype).

    Raises:
        ValueError: ``config`` has fields ``config_cls`` does not know (named, with ``what``).
    """
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = set(config) - fields
    if unknown:
        raise ValueError(f"{what} config: unknown fields {sorted(unknown)}")
    net = build(config_cls(**config))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return net


def read_weights_file(source: str | os.PathLike[str], what: str) -> tuple[Path, Mapping[str, Any]]:
    """A local pretrained-weights file named by a flag or an environment variable: its path and the
    mapping saved in it.

    Raises:
        FileNotFoundError: no such file (the message names it and ``what`` it should hold).
        ValueError: the file holds something other than a mapping.
    """
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} weights file not found")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: not a state dict")
    return path, state


def load_mapping(path: Path) -> Mapping[str, Any] | None:
    """The object saved in ``path`` if it is a mapping torch can load safely, else ``None``."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None
    return obj if isinstance(obj, Mapping) else None


def read_network(
    obj: Mapping[str, Any], kind: str, train_kind: str,
    from_state: Callable[[Mapping[str, Any], Mapping[str, torch.Tensor]], N],
) -> N | None:
    """The network of a shipped file (``kind``) or a training checkpoint (``train_kind``), else ``None``."""
    if obj.get("kind") == kind:
        return from_state(obj["config"], obj["state_dict"])
    if obj.get("kind") == train_kind:
        return from_state(obj["generator_config"], obj["generator"])
    return None
