"""The deblurrer interface shared by ``models/`` and ``benchmarks/``.

A deblurrer maps a batch of blurred images to restored images:

* input ``blurred``: float32 tensor (B, 3, H, W), sRGB values in [0, 1], on any device;
* optional ``kernels``: float32 tensor (B, k, k), the true blur kernels (only oracle, non-blind
  methods use them; ``needs_kernel`` says so);
* output: float32 tensor (B, 3, H, W) in [0, 1], same device, same size.

``load_deblurrer(spec)`` resolves a registered name (``identity``, ...) or a checkpoint path (the
networks of the model families register their checkpoint formats with
:func:`models.checkpoint.register_network`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Deblurrer(Protocol):
    """What every deblurrer offers (see the module docstring for the tensor conventions)."""

    name: str
    needs_kernel: bool

    def __call__(self, blurred: torch.Tensor, kernels: torch.Tensor | None = None) -> torch.Tensor: ...


_REGISTRY: dict[str, Callable[..., Deblurrer]] = {}
_CHECKPOINT_LOADERS: list[Callable[[Path, str | torch.device], Deblurrer | None]] = []


def register_deblurrer(name: str) -> Callable[[Callable[..., Deblurrer]], Callable[..., Deblurrer]]:
    """Decorator: register a factory ``factory(device=...) -> Deblurrer`` under ``name``."""

    def wrap(factory: Callable[..., Deblurrer]) -> Callable[..., Deblurrer]:
        if name in _REGISTRY:
            raise ValueError(f"deblurrer {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return wrap


def register_checkpoint_loader(
    loader: Callable[[Path, str | torch.device], Deblurrer | None],
) -> Callable[[Path, str | torch.device], Deblurrer | None]:
    """Register a function that turns a checkpoint file into a Deblurrer (or returns None if not its kind)."""
    _CHECKPOINT_LOADERS.append(loader)
    return loader


def available_deblurrers() -> list[str]:
    """Names accepted by :func:`load_deblurrer` besides checkpoint paths."""
    load_builtin()
    return sorted(_REGISTRY)


def load_deblurrer(spec: str, device: str | torch.device = "cpu") -> Deblurrer:
    """A deblurrer from a registered name or a checkpoint file.

    >>> load_deblurrer("identity").name
    'identity'
    """
    load_builtin()
    if spec in _REGISTRY:
        return _REGISTRY[spec](device=device)
    path = Path(spec)
    if path.is_file():
        for loader in _CHECKPOINT_LOADERS:
            model = loader(path, device)
            if model is not None:
                return model
        raise ValueError(f"{path}: not a checkpoint any registered model can load")
    raise ValueError(
        f"deblurrer {spec!r}: not a registered name ({', '.join(sorted(_REGISTRY))}) nor an existing checkpoint file"
    )


class Identity:
    """No deblurring: returns the blurred input (the baseline every model must beat)."""

    name = "identity"
    needs_kernel = False

    def __call__(self, blurred: torch.Tensor, kernels: torch.Tensor | None = None) -> torch.Tensor:
        return blurred.clone()


@register_deblurrer("identity")
def _identity(device: str | torch.device = "cpu") -> Deblurrer:
    return Identity()


def load_builtin() -> None:
    """Import what registers the built-in deblurrers: the classical methods and every model family
    of :mod:`models.families` (kept lazy so that importing this module is cheap)."""
    import models.classical  # noqa: F401
    from models.families import load_all

    load_all()
