"""DeblurGAN (Kupyn et al. 2018): ResNet generator, PatchGAN critic, checkpoints.

Generator (images in [-1, 1])::

    reflect-pad 3, conv 7×7 → C, IN, ReLU
    2 × [conv 3×3 stride 2 (C→2C→4C), IN, ReLU]
    n_blocks × residual block [pad, conv 3×3, IN, ReLU, dropout, pad, conv 3×3, IN] (+ skip)
    2 × [transposed conv 3×3 stride 2 (4C→2C→C), IN, ReLU]
    reflect-pad 3, conv 7×7 → 3, tanh
    output = clamp(input + tanh branch, -1, 1)          (global residual)

With the global residual the last conv is initialised to zero, so an untrained generator is the
identity and early training cannot make images worse than their blurred input (the paper does not
say how it initialises; this only changes the starting point, not the architecture).

Instance norm has no affine parameters and convolutions carry biases, as in the original code, so
generator weights of the original DeblurGAN (``netG`` state dicts of KupynOrest/DeblurGAN, keys
``model.1.weight`` ...) map one to one onto :class:`Generator` (see :func:`convert_original_state_dict`).

Critic: the 70×70 PatchGAN (``n_layers=3``), no sigmoid (WGAN-GP).

Checkpoints: :func:`save_generator` writes the shipped single-file format (half-precision weights +
architecture); the registered checkpoint loader reads it, training checkpoints of ``models.train``
and original DeblurGAN generator state dicts, so ``load_deblurrer(path)`` works for all three.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.base import Deblurrer, register_checkpoint_loader
from models.checkpoint import load_mapping, network_from_state, read_network, save_network
from models.tiling import NetworkDeblurrer

#: Spatial multiple the generator needs (two stride-2 stages).
SIZE_MULTIPLE = 4
#: Smallest input side (reflection padding at the 1/4-resolution bottleneck needs 2 pixels).
MIN_SIZE = 8
#: ``kind`` tag of the shipped single-file generator format.
GENERATOR_KIND = "blurkit.deblurgan.generator"
#: ``kind`` tag of training checkpoints written by ``models.train``.
TRAIN_KIND = "blurkit.deblurgan.train"


@dataclass(frozen=True)
class GeneratorConfig:
    """Generator hyper-parameters (defaults: the paper's ``resnet_9blocks``).

    Attributes:
        base_channels: channels after the first 7×7 conv (64 in the paper); the bottleneck has 4×.
        n_blocks: residual blocks at the bottleneck (9 in the paper).
        dropout: dropout probability inside residual blocks (0.5 in the paper; 0 disables).
        global_residual: add the input to the tanh branch and clamp to [-1, 1].
    """

    base_channels: int = 64
    n_blocks: int = 9
    dropout: float = 0.5
    global_residual: bool = True

    def __post_init__(self) -> None:
        if self.base_channels < 1:
            raise ValueError(f"base_channels: must be >= 1, got {self.base_channels}")
        if self.n_blocks < 0:
            raise ValueError(f"n_blocks: must be >= 0, got {self.n_blocks}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class CriticConfig:
    """PatchGAN critic hyper-parameters (defaults: 70×70 receptive field).

    Attributes:
        base_channels: channels of the first conv (64 in the paper).
        n_layers: stride-2 stages; 3 gives the 70×70 receptive field.
    """

    base_channels: int = 64
    n_layers: int = 3

    def __post_init__(self) -> None:
        if self.base_channels < 1:
            raise ValueError(f"base_channels: must be >= 1, got {self.base_channels}")
        if self.n_layers < 1:
            raise ValueError(f"n_layers: must be >= 1, got {self.n_layers}")


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """DeblurGAN's initialisation: conv weights ~ N(0, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResidualBlock(nn.Module):
    """``x + body(x)``; ``body`` = pad, conv, IN, ReLU, dropout, pad, conv, IN (indices 1 and 6 are convs)."""

    def __init__(self, channels: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=True),
            _norm(channels),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=True),
            _norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """DeblurGAN ResNet generator: (B, 3, H, W) in [-1, 1] → same shape; H, W multiples of 4."""

    def __init__(self, config: GeneratorConfig = GeneratorConfig()) -> None:
        super().__init__()
        self.config = config
        c = config.base_channels
        self.stem = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(3, c, 7, bias=True), _norm(c), nn.ReLU(True)
        )
        self.down = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(m * c, 2 * m * c, 3, stride=2, padding=1, bias=True),
                _norm(2 * m * c),
                nn.ReLU(True),
            )
            for m in (1, 2)
        )
        self.blocks = nn.Sequential(*(ResidualBlock(4 * c, config.dropout) for _ in range(config.n_blocks)))
        self.up = nn.ModuleList(
            nn.Sequential(
                nn.ConvTranspose2d(m * c, m * c // 2, 3, stride=2, padding=1, output_padding=1, bias=True),
                _norm(m * c // 2),
                nn.ReLU(True),
            )
            for m in (4, 2)
        )
        last = nn.Conv2d(c, 3, 7, bias=True)
        self.head = nn.Sequential(nn.ReflectionPad2d(3), last, nn.Tanh())
        init_weights(self)
        if config.global_residual:
            # start as the identity (input + tanh(0)): training only has to learn the correction
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % SIZE_MULTIPLE or x.shape[-1] % SIZE_MULTIPLE:
            raise ValueError(
                f"input size {tuple(x.shape[-2:])}: height and width must be multiples of {SIZE_MULTIPLE} "
                "(pad first, e.g. with models.tiling.restore_padded)"
            )
        y = self.stem(x)
        for stage in self.down:
            y = stage(y)
        y = self.blocks(y)
        for stage in self.up:
            y = stage(y)
        y = self.head(y)
        if self.config.global_residual:
            y = torch.clamp(x + y, -1.0, 1.0)
        return y


class Critic(nn.Module):
    """PatchGAN critic: (B, 3, H, W) in [-1, 1] → (B, 1, h, w) unbounded scores (no sigmoid)."""

    def __init__(self, config: CriticConfig = CriticConfig()) -> None:
        super().__init__()
        self.config = config
        c = config.base_channels
        layers: list[nn.Module] = [nn.Conv2d(3, c, 4, stride=2, padding=2), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, config.n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < config.n_layers else 1
            layers += [
                nn.Conv2d(c * prev, c * mult, 4, stride=stride, padding=2, bias=True),
                _norm(c * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(c * mult, 1, 4, stride=1, padding=2))
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


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


# --------------------------------------------------------------------------------------------------
# Deblurrer wrapper, checkpoints
# --------------------------------------------------------------------------------------------------
class DeblurGAN(NetworkDeblurrer):
    """A :class:`Generator` behind the :class:`models.base.Deblurrer` interface ([0, 1] in and out).

    Images of any size are reflect-padded to a multiple of 4 and cropped back; with ``tile`` set,
    images larger than ``tile`` are processed in overlapping tiles blended with linear ramps.
    """

    net: Generator
    size_multiple = SIZE_MULTIPLE
    min_size = MIN_SIZE

    @property
    def generator(self) -> Generator:
        """The generator network (same as ``net``)."""
        return self.net


def save_generator(generator: Generator, path: str | os.PathLike[str], half: bool = True) -> None:
    """Write the shipped single-file format: architecture + (half-precision) generator weights."""
    save_network(generator, GENERATOR_KIND, path, half)


def generator_from_state(config: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> Generator:
    """Build a float32 :class:`Generator` from a config mapping and a state dict (any float dtype)."""
    return network_from_state(Generator, GeneratorConfig, config, state, "generator")


def load_generator(path: str | os.PathLike[str]) -> Generator:
    """A float32 generator from a shipped file, a training checkpoint or an original DeblurGAN ``netG``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is none of these formats.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such checkpoint file")
    gen = _generator_or_none(p)
    if gen is None:
        raise ValueError(
            f"{p}: not a DeblurGAN checkpoint (shipped generator, training checkpoint or original netG)"
        )
    return gen


def _generator_or_none(path: Path) -> Generator | None:
    obj = load_mapping(path)
    if obj is None:
        return None
    gen = read_network(obj, GENERATOR_KIND, TRAIN_KIND, generator_from_state)
    if gen is None and is_original_state_dict(obj):
        config, state = convert_original_state_dict(obj)
        gen = Generator(config)
        gen.load_state_dict({k: v.float() for k, v in state.items()})
    return gen


@register_checkpoint_loader
def _load_checkpoint(path: Path, device: str | torch.device) -> Deblurrer | None:
    gen = _generator_or_none(path)
    if gen is None:
        return None
    return DeblurGAN(gen, device=device, name=f"deblurgan:{path.stem}")
