"""NAFNet (Chen, Chu, Zhang and Sun, "Simple Baselines for Image Restoration", ECCV 2022).

A U-Net of *NAF blocks* — "nonlinear activation free": the nonlinearity is a :class:`SimpleGate`
(split the channels in two halves and multiply them) and attention is a *simplified channel
attention* (global average pool → 1×1 conv → channel-wise scale). One block::

    x ─ LayerNorm ─ 1×1 (C→2C) ─ dw 3×3 ─ gate (2C→C) ─ SCA ─ 1×1 (C→C) ─ ·β ─ + ─┐
                                                                              x ──┘ = y
    y ─ LayerNorm ─ 1×1 (C→2C) ─ gate (2C→C) ─ 1×1 (C→C) ─ ·γ ─ + y

``β`` and ``γ`` are per-channel scales initialised at zero, so every block starts as the identity.
The U-Net: a 3×3 intro conv (3 → ``width``), ``len(enc_blocks)`` encoder stages (blocks, then a
2×2 stride-2 conv doubling the channels), ``middle_blocks`` at the lowest resolution, decoder stages
(1×1 conv + pixel shuffle halving the channels, the encoder skip added, blocks), a 3×3 conv to 3
channels, and the global residual ``output = input + branch``. As in this package's other
networks the last conv starts at zero, so an untrained NAFNet is exactly the identity — a model that
has learned nothing leaves a photo as it was. Images are in [-1, 1] (the training loop's range).

Loss: the pixel-loss step shared with the spatially variant RNN (``models.families.nafnet``).

The paper's GoPro model is ``width = 32``, ``enc_blocks = (1, 1, 1, 28)``, ``middle_blocks = 1``,
``dec_blocks = (1, 1, 1, 1)`` (NAFNet-32, 32.87 dB on GoPro); the configs here are much smaller
for CPU budgets (``models/configs/nafnet_cpu.toml``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from blurkit.tensors import chw_to_hwc, hwc_to_chw

#: Smallest input side the wrapper pads to.
MIN_SIZE = 16
#: Spatial multiple of the default configuration (``2 ** len(enc_blocks)``); the training loop
#: checks crops against the configured network's own multiple.
SIZE_MULTIPLE = 8


@dataclass(frozen=True)
class NAFNetConfig:
    """Network hyper-parameters.

    Attributes:
        width: channels at full resolution (doubled at every encoder stage).
        enc_blocks: NAF blocks of each encoder stage (one stride-2 stage each).
        middle_blocks: NAF blocks at the lowest resolution.
        dec_blocks: NAF blocks of each decoder stage (as many stages as ``enc_blocks``).
        ffn_expand: channel expansion of the feed-forward half of a block.
        tile: restore images larger than this many pixels on a side in overlapping tiles of this size
            (0: whole images; bounds memory, the output is the same up to the tile seams' blending).
        scales: at restoration, average the outputs at these fractions of the resolution (1: full
            resolution; 3: a third, its correction enlarged back; :func:`models.tiling.restore_scales`).
            An inference setting: training does not use it.
    """

    width: int = 16
    enc_blocks: tuple[int, ...] = (1, 1, 1)
    middle_blocks: int = 1
    dec_blocks: tuple[int, ...] = (1, 1, 1)
    ffn_expand: int = 2
    tile: int = 0
    scales: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        from models.tiling import check_scales

        object.__setattr__(self, "scales", check_scales(self.scales))
        object.__setattr__(self, "enc_blocks", tuple(int(b) for b in self.enc_blocks))
        object.__setattr__(self, "dec_blocks", tuple(int(b) for b in self.dec_blocks))
        if self.width < 1 or self.ffn_expand < 1:
            raise ValueError(f"width/ffn_expand: must be >= 1, got {self.width}, {self.ffn_expand}")
        if len(self.enc_blocks) != len(self.dec_blocks) or not self.enc_blocks:
            raise ValueError(
                f"enc_blocks/dec_blocks: need the same number (>= 1) of stages, got "
                f"{self.enc_blocks} and {self.dec_blocks}"
            )
        if min(self.enc_blocks + self.dec_blocks) < 0 or self.middle_blocks < 0:
            raise ValueError("blocks: counts must be >= 0")
        if self.tile < 0 or (self.tile and (self.tile % self.size_multiple or self.tile < 2 * MIN_SIZE)):
            raise ValueError(
                f"tile: must be 0 or a multiple of {self.size_multiple} of at least {2 * MIN_SIZE}, got {self.tile}"
            )

    @property
    def size_multiple(self) -> int:
        """Height and width must be multiples of this (one halving per encoder stage)."""
        return 2 ** len(self.enc_blocks)


class LayerNorm2d(nn.Module):
    """Layer normalisation over the channels of each pixel of a (B, C, H, W) tensor."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.channels = channels  # a Python int: the normalised shape stays a constant when traced (ONNX)
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(chw_to_hwc(x), (self.channels,), self.weight, self.bias, self.eps)
        return hwc_to_chw(y)


class SimpleGate(nn.Module):
    """Split the channels into two halves and multiply them (NAFNet's replacement for GELU)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


class NAFBlock(nn.Module):
    """One NAF block (see the module docstring); the identity at initialisation."""

    def __init__(self, c: int, ffn_expand: int = 2) -> None:
        super().__init__()
        self.norm1 = LayerNorm2d(c)
        self.conv1 = nn.Conv2d(c, 2 * c, 1)
        self.conv2 = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.gate = SimpleGate()
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1))
        self.conv3 = nn.Conv2d(c, c, 1)
        self.norm2 = LayerNorm2d(c)
        self.conv4 = nn.Conv2d(c, ffn_expand * c, 1)
        self.conv5 = nn.Conv2d(ffn_expand * c // 2, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.gate(self.conv2(self.conv1(self.norm1(x))))
        t = self.conv3(t * self.sca(t))
        y = x + t * self.beta
        t = self.conv5(self.gate(self.conv4(self.norm2(y))))
        return y + t * self.gamma


def _blocks(c: int, n: int, ffn_expand: int) -> nn.Sequential:
    return nn.Sequential(*[NAFBlock(c, ffn_expand) for _ in range(n)])


class NAFNet(nn.Module):
    """The NAFNet U-Net (module docstring); (B, 3, H, W) in [-1, 1], sides multiples of
    ``config.size_multiple``."""

    def __init__(self, config: NAFNetConfig) -> None:
        super().__init__()
        self.config = config
        c = config.width
        e = config.ffn_expand
        self.intro = nn.Conv2d(3, c, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        for n in config.enc_blocks:
            self.encoders.append(_blocks(c, n, e))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, stride=2))
            c *= 2
        self.middle = _blocks(c, config.middle_blocks, e)
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for n in config.dec_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(_blocks(c, n, e))
        self.ending = nn.Conv2d(c, 3, 3, padding=1)
        with torch.no_grad():
            self.ending.weight.zero_()
            self.ending.bias.zero_()  # type: ignore[union-attr]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.config.size_multiple
        if x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"input: height and width must be multiples of {m}, got {tuple(x.shape[-2:])}")
        y = self.intro(x)
        skips = []
        for enc, down in zip(self.encoders, self.downs, strict=True):
            y = enc(y)
            skips.append(y)
            y = down(y)
        y = self.middle(y)
        for up, dec, skip in zip(self.ups, self.decoders, reversed(skips), strict=True):
            y = dec(up(y) + skip)
        return x + self.ending(y)
