"""Single-file network checkpoints shared by the model families, and the registry of their networks.

A shipped file holds ``{"kind", "format_version", "config", "state_dict"}``: the architecture's
frozen-dataclass config and its weights (half precision by default; integer buffers kept as they
are). Training checkpoints (``models.training``) hold the generator under ``generator_config`` and
``generator``; :func:`read_network` accepts both.

Every family registers its network once with :func:`register_network` (name, module class, config
class, deblurrer wrapper): the returned :class:`Network` saves and reads both formats, tagged
``blurkit.NAME.generator`` and ``blurkit.NAME.train``, and ``models.load_deblurrer(path)`` finds the
network a file belongs to by that tag.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch
from torch import nn

from blurkit.io import temp_file_for
from models.base import Deblurrer, load_builtin, register_checkpoint_loader

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


@dataclass(frozen=True)
class Network(Generic[N]):
    """A registered network: its checkpoint formats and the deblurrer that runs it (see
    :func:`register_network`)."""

    name: str
    module: type[N]
    config: type
    deblurrer: Callable[..., Deblurrer]
    build: Callable[[Any], N] | None = None
    convert: Callable[[Mapping[str, Any]], N | None] | None = None

    @property
    def kind(self) -> str:
        """``kind`` tag of the shipped single-file format."""
        return f"blurkit.{self.name}.generator"

    @property
    def train_kind(self) -> str:
        """``kind`` tag of training checkpoints (``models.training.state``)."""
        return f"blurkit.{self.name}.train"

    def save(self, net: nn.Module, path: str | os.PathLike[str], half: bool = True) -> None:
        """Write the shipped single-file format: architecture + (half-precision) weights and buffers.

        Raises:
            ValueError: ``net`` is not this network's module class.
        """
        if not isinstance(net, self.module):
            raise ValueError(f"{path}: save_generator expects a {self.module.__name__}, got {type(net).__name__}")
        save_network(net, self.kind, path, half)

    def from_state(self, config: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> N:
        """A float32 network from a config mapping and a state dict (any float dtype)."""
        return network_from_state(self.build or self.module, self.config, config, state, self.name)

    def read(self, obj: Mapping[str, Any]) -> N | None:
        """The network saved in ``obj`` (shipped, training, or a foreign format ``convert`` knows), else None."""
        net = read_network(obj, self.kind, self.train_kind, self.from_state)
        if net is None and self.convert is not None:
            net = self.convert(obj)
        return net

    def load(self, path: str | os.PathLike[str]) -> N:
        """A float32 network from a checkpoint file of this network.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ValueError: the file holds no checkpoint of this network.
        """
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such checkpoint file")
        obj = load_mapping(p)
        net = None if obj is None else self.read(obj)
        if net is None:
            raise ValueError(f"{p}: not a {self.name} checkpoint (shipped generator or training checkpoint)")
        return net


_NETWORKS: dict[str, Network[Any]] = {}


def register_network(
    name: str,
    module: type[N],
    config: type,
    deblurrer: Callable[..., Deblurrer],
    build: Callable[[Any], N] | None = None,
    convert: Callable[[Mapping[str, Any]], N | None] | None = None,
) -> Network[N]:
    """Register a family's network so that its checkpoint files load with ``models.load_deblurrer``.

    Args:
        name: the family name (the files' ``kind`` tags and the deblurrers' names derive from it).
        module: the ``nn.Module`` class; ``module(config)`` builds it unless ``build`` is given.
        config: its frozen config dataclass (saved as a mapping beside the weights).
        deblurrer: ``deblurrer(net, device=..., name=...)`` wraps a network as a Deblurrer.
        build: builds a network from a config for loading (no pretrained downloads).
        convert: reads a foreign checkpoint mapping (another project's weights), or returns None.

    Raises:
        ValueError: ``name`` is already registered.
    """
    if name in _NETWORKS:
        raise ValueError(f"network {name!r} is already registered")
    network = Network(name, module, config, deblurrer, build, convert)
    _NETWORKS[name] = network
    return network


def unregister_network(name: str) -> None:
    """Forget a registered network (a no-op for unknown names)."""
    _NETWORKS.pop(name, None)


def network_names() -> list[str]:
    """Names of the registered networks, built-in families included."""
    load_builtin()
    return list(_NETWORKS)


@register_checkpoint_loader
def _load_registered(path: Path, device: str | torch.device) -> Deblurrer | None:
    obj = load_mapping(path)
    if obj is None:
        return None
    for network in _NETWORKS.values():
        net = network.read(obj)
        if net is not None:
            return network.deblurrer(net, device=device, name=f"{network.name}:{path.stem}")
    return None
