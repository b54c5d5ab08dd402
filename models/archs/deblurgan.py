"""DeblurGAN (Kupyn et al. 2018): the ResNet generator and the PatchGAN critic.

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
``model.1.weight`` ...) map one to one onto :class:`Generator`
(:func:`models.families.deblurgan.convert_original_state_dict`).

Critic: the 70×70 PatchGAN (``n_layers=3``), no sigmoid (WGAN-GP).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

#: Spatial multiple the generator needs (two stride-2 stages).
SIZE_MULTIPLE = 4
#: Smallest input side (reflection padding at the 1/4-resolution bottleneck needs 2 pixels).
MIN_SIZE = 8


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
