"""Spatially variant RNN deblurring (Zhang et al., CVPR 2018): the directional sweep and the network.

Zhang, Pan, Ren, Song, Bao, Lau and Yang, "Dynamic Scene Deblurring Using Spatially Variant
Recurrent Neural Networks", CVPR 2018. Deconvolution is modelled as an infinite-impulse-response
filter whose coefficients change from pixel to pixel: a CNN reads the blurred image and predicts,
for every pixel, channel and sweep direction, the weight of a first-order spatial recurrence (the
recursive filter of Liu et al., ECCV 2016)::

    h_t = (1 - w_t) · x_t + w_t · h_{t-1}        along a row or a column, t = 0 … L-1

A 1-D recurrence of this kind has a long, image-adaptive support — a few of them cover a large blur
at a fraction of the cost of large convolution kernels. As in the authors' code, a sweep starts from
a zero state (``h_{-1} = 0``, so ``h_0 = (1 - w_0)·x_0``) and the predicted weights are ``tanh`` of
the weight CNN's output (``max_weight = 1``); ``initial_state = "first"`` (``h_0 = x_0``: a constant
signal passes unchanged) and ``max_weight < 1`` are options. The recurrence is stable for ``|w| < 1``.

Two architectures (``SVRNNConfig.architecture``; images in [-1, 1]):

``released`` — the network of the authors' released Caffe model (``C = base_channels`` = 16,
``F = rnn_channels`` = 32, ``n_rnn`` = 4: 9.23 M parameters, ``models/configs/svrnn.toml``)::

    features   conv 11×11 (3 → C), LReLU 0.1        full resolution   ── skip s0
               conv 7×7 /2 (C → F)                  1/2               ── skip pre
    weights    VGG-16-like encoder on the image (4C, 4C | pool 8C, 8C | pool 16C ×3 | pool 32C, 32C,
               16C), decoder ×2 ‖ encoder 1/4 → 2 × conv 8C, ×2 ‖ encoder 1/2 → conv 16C → conv to
               n_rnn · 4 · F maps at 1/2, tanh (ReLU throughout)
    RNN layer  ×n_rnn: four sweeps (left→right, right→left, top→bottom, bottom→top), concatenated,
               conv 3×3 (4F → F), LReLU 0.1
    reconstruct  concat(pre, RNN output) → conv 9×9 (2F → C), LReLU 0.1, bilinear ×2, concat s0,
               conv 5×5 (2C → 3), linear output

``compact`` — this package's smaller variant for CPU budgets (``models/configs/svrnn_small.toml``)::

    features   conv 3×3 (3 → C), LReLU            full resolution   ── skip s0
               conv 3×3 /2 (C → 2C), LReLU        1/2               ── skip s1
               conv 3×3 /2 (2C → F), LReLU        1/4
    weights    conv 3×3 (3 → C), conv /2, conv /2 (→ 2C), 2 × conv (2C), conv → n_rnn · 4 · F,
               max_weight · tanh                  1/4
    RNN layer  ×n_rnn: four sweeps, concatenated, conv 1×1 (4F → F), LReLU, conv 3×3 (F → F),
               LReLU, + input (residual)
    reconstruct  conv 3×3 (F → 2C) + s1 after bilinear ×2, conv 3×3 (2C → C) + s0 after bilinear ×2,
               conv 3×3 (C → C), LReLU, conv 3×3 (C → 3), tanh

With ``global_residual`` (on in ``compact``, off in the released network) the output is
``clamp(input + branch, -1, 1)`` and the last conv starts at zero, so an untrained network is the
identity (as ``models.archs.deblurgan``).

The recurrence runs along one axis with batch, channels and the other axis vectorised, by the scan
of :mod:`models.archs.scan` (``SVRNN.scan``: the parallel :func:`~models.archs.scan.linear_scan`
by default, :func:`~models.archs.scan.linear_scan_loop` as the reference). Its loss and training
step (pixel loss, no critic) are in ``models.families.svrnn``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.archs.scan import Scan, linear_scan

#: Spatial multiple the wrapper pads to (serves both architectures; see SVRNNConfig.size_multiple).
SIZE_MULTIPLE = 8
#: Smallest input side.
MIN_SIZE = 8
#: Sweep directions: (spatial dim of a (B, C, H, W) tensor, reversed).
DIRECTIONS: tuple[tuple[int, bool], ...] = ((3, False), (3, True), (2, False), (2, True))
#: The two architectures: this package's compact network and the authors' released one.
ARCHITECTURES = ("compact", "released")
#: How a sweep starts: from a zero state (the authors' code) or by passing the first position.
INITIAL_STATES = ("zero", "first")


def spatial_rnn(
    x: torch.Tensor,
    w: torch.Tensor,
    dim: int,
    reverse: bool = False,
    scan: Scan = linear_scan,
    initial_state: str = "zero",
) -> torch.Tensor:
    """One directional sweep ``h_t = (1 - w_t)·x_t + w_t·h_{t-1}``.

    Args:
        x: (B, C, H, W) features.
        w: weights of the same shape (|w| < 1 for a stable filter).
        dim: 3 sweeps along rows (left→right), 2 along columns (top→bottom).
        reverse: sweep the other way (right→left, bottom→top).
        scan: :func:`~models.archs.scan.linear_scan` or :func:`~models.archs.scan.linear_scan_loop`.
        initial_state: ``"zero"``: ``h_{-1} = 0``, so ``h_0 = (1 - w_0)·x_0`` (the authors' code);
            ``"first"``: ``h_0 = x_0``.
    """
    if x.shape != w.shape:
        raise ValueError(f"x/w: shapes differ, {tuple(x.shape)} vs {tuple(w.shape)}")
    if initial_state not in INITIAL_STATES:
        raise ValueError(f"initial_state: must be one of {INITIAL_STATES}, got {initial_state!r}")
    if reverse:
        x, w = x.flip(dim), w.flip(dim)
    a = w
    if initial_state == "first":
        # the first position passes through: a_0 = 0, b_0 = x_0
        first = torch.zeros_like(w.narrow(dim, 0, 1))
        a = torch.cat([first, w.narrow(dim, 1, w.shape[dim] - 1)], dim)
    b = (1.0 - a) * x
    h = scan(a, b, dim)
    return h.flip(dim) if reverse else h


@dataclass(frozen=True)
class SVRNNConfig:
    """Network hyper-parameters.

    Attributes:
        architecture: ``"compact"`` (this package's small network, recurrences at 1/4 resolution) or
            ``"released"`` (the authors' released network: 4 RNN layers at 1/2 resolution, a
            VGG-16-like encoder–decoder predicting the weights; ``base_channels``/``rnn_channels``
            scale it, 16/32 as released).
        base_channels: channels at full resolution.
        rnn_channels: feature channels the recurrences run on.
        n_rnn: RNN layers (each: four directional sweeps + convolutions).
        max_weight: recurrence weights are ``max_weight · tanh(·)``; at most 1 (plain tanh, the
            authors' choice), since the filter is stable for ``|w| < 1``.
        initial_state: ``"zero"`` (``h_{-1} = 0``, the authors' code) or ``"first"`` (``h_0 = x_0``:
            a constant signal passes unchanged).
        global_residual: add the input to the output branch and clamp to [-1, 1] (the released
            network has none; with it an untrained network is the identity).
        sweep_tile: restore images larger than this many pixels in overlapping tiles of this size
            (a quarter overlap), so that no sweep at inference runs further than in training; set
            it to the training crop. 0 runs whole images. A network trained on small crops and run
            on a whole 1280×720 frame carries values across flat regions for hundreds of pixels
            (streaks); with tiles it keeps the gain it has on crops (``docs/models.md``).
    """

    architecture: str = "compact"
    base_channels: int = 32
    rnn_channels: int = 32
    n_rnn: int = 2
    max_weight: float = 1.0
    initial_state: str = "zero"
    global_residual: bool = True
    sweep_tile: int = 0

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture: must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.sweep_tile < 0 or self.sweep_tile % self.size_multiple or 0 < self.sweep_tile < 16:
            raise ValueError(
                f"sweep_tile: must be 0 or a multiple of {self.size_multiple} of at least 16, got {self.sweep_tile}"
            )
        if self.initial_state not in INITIAL_STATES:
            raise ValueError(f"initial_state: must be one of {INITIAL_STATES}, got {self.initial_state!r}")
        for name in ("base_channels", "rnn_channels", "n_rnn"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.max_weight <= 1.0:
            raise ValueError(f"max_weight: must be in (0, 1], got {self.max_weight}")

    @property
    def size_multiple(self) -> int:
        """Height and width must be multiples of this (two stride-2 stages, or three poolings)."""
        return 8 if self.architecture == "released" else 4


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


def _act(slope: float = 0.2) -> nn.Module:
    return nn.LeakyReLU(slope, inplace=True)


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class RNNLayer(nn.Module):
    """Four directional sweeps, concatenated and fused by convolutions.

    ``compact``: conv 1×1 (4F → F), LReLU, conv 3×3, LReLU, plus the layer's input (residual);
    ``released``: conv 3×3 (4F → F), LReLU 0.1, no residual.
    """

    def __init__(self, channels: int, architecture: str = "compact", initial_state: str = "zero") -> None:
        super().__init__()
        self.residual = architecture == "compact"
        self.initial_state = initial_state
        if self.residual:
            self.fuse = nn.Sequential(
                _conv(4 * channels, channels, 1), _act(), _conv(channels, channels), _act()
            )
        else:
            self.fuse = nn.Sequential(_conv(4 * channels, channels), _act(0.1))

    def forward(self, x: torch.Tensor, weights: torch.Tensor, scan: Scan = linear_scan) -> torch.Tensor:
        ws = weights.chunk(len(DIRECTIONS), dim=1)
        sweeps = [
            spatial_rnn(x, w, dim, rev, scan, self.initial_state)
            for w, (dim, rev) in zip(ws, DIRECTIONS, strict=True)
        ]
        y = self.fuse(torch.cat(sweeps, dim=1))
        return x + y if self.residual else y


def _vgg_stage(cin: int, widths: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for w in widths:
        layers += [_conv(cin, w), nn.ReLU(inplace=True)]
        cin = w
    return nn.Sequential(*layers)


class ReleasedWeightNet(nn.Module):
    """The authors' weight CNN: a VGG-16-like encoder to 1/8 and a decoder back to 1/2 with two
    concatenated skips; ``out_channels`` weight maps at 1/2 resolution (before the tanh)."""

    def __init__(self, out_channels: int, width: int = 64) -> None:
        super().__init__()
        c = width
        self.s1 = _vgg_stage(3, (c, c))  # full resolution
        self.s2 = _vgg_stage(c, (2 * c, 2 * c))  # 1/2
        self.s3 = _vgg_stage(2 * c, (4 * c, 4 * c, 4 * c))  # 1/4
        self.s4 = _vgg_stage(4 * c, (8 * c, 8 * c, 4 * c))  # 1/8
        self.d3 = _vgg_stage(8 * c, (2 * c, 2 * c))  # 1/4: up(s4) ‖ s3
        self.d2 = nn.Sequential(_vgg_stage(4 * c, (4 * c,)), _conv(4 * c, out_channels))  # 1/2: up(d3) ‖ s2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f2 = self.s2(F.max_pool2d(self.s1(x), 2))
        f3 = self.s3(F.max_pool2d(f2, 2))
        f4 = self.s4(F.max_pool2d(f3, 2))
        y = self.d3(torch.cat([_up2(f4), f3], dim=1))
        return self.d2(torch.cat([_up2(y), f2], dim=1))


class SVRNN(nn.Module):
    """Spatially variant RNN deblurring network: (B, 3, H, W) in [-1, 1] → same; H, W multiples of
    ``config.size_multiple`` (4 compact, 8 released)."""

    def __init__(self, config: SVRNNConfig = SVRNNConfig()) -> None:
        super().__init__()
        self.config = config
        c, f, n = config.base_channels, config.rnn_channels, config.n_rnn
        arch = config.architecture
        maps = n * len(DIRECTIONS) * f
        if arch == "compact":
            self.enc0: nn.Module = nn.Sequential(_conv(3, c), _act())
            self.enc1: nn.Module = nn.Sequential(_conv(c, 2 * c, stride=2), _act())
            self.enc2: nn.Module = nn.Sequential(_conv(2 * c, f, stride=2), _act())
            self.weight_net: nn.Module = nn.Sequential(
                _conv(3, c),
                _act(),
                _conv(c, 2 * c, stride=2),
                _act(),
                _conv(2 * c, 2 * c, stride=2),
                _act(),
                _conv(2 * c, 2 * c),
                _act(),
                _conv(2 * c, 2 * c),
                _act(),
                _conv(2 * c, maps),
            )
            self.dec2: nn.Module = nn.Sequential(_conv(f, 2 * c), _act())
            self.dec1: nn.Module = nn.Sequential(_conv(2 * c, c), _act())
            last = _conv(c, 3)
            self.dec0: nn.Module = nn.Sequential(_conv(c, c), _act(), last, nn.Tanh())
        else:
            # conv 11×11 + LReLU 0.1 (full resolution, skip) → conv 7×7 /2 (no activation) → RNNs at 1/2
            self.enc0 = nn.Sequential(_conv(3, c, 11), _act(0.1))
            self.enc1 = _conv(c, f, 7, stride=2)
            self.weight_net = ReleasedWeightNet(maps, width=4 * c)
            # concat(pre-RNN features, RNN output) → conv 9×9 + LReLU → ×2 → concat full-res → conv 5×5
            self.dec1 = nn.Sequential(_conv(2 * f, c, 9), _act(0.1))
            last = _conv(2 * c, 3, 5)
            self.dec0 = last
        self.rnns = nn.ModuleList(RNNLayer(f, arch, config.initial_state) for _ in range(n))
        #: the scan used by forward (``linear_scan`` or ``linear_scan_loop``); export fixes its steps
        self.scan: Scan = linear_scan
        if config.global_residual:
            # start as the identity: training only has to learn the correction
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)  # type: ignore[arg-type]

    def recurrence_weights(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n_rnn · 4 · F, H/s, W/s) weights in (-max_weight, max_weight); s = 4 compact, 2 released."""
        return self.config.max_weight * torch.tanh(self.weight_net(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.config.size_multiple
        if x.shape[-2] % m or x.shape[-1] % m:
            raise ValueError(
                f"input size {tuple(x.shape[-2:])}: height and width must be multiples of {m} "
                "(pad first, e.g. with models.tiling.restore_padded)"
            )
        weights = self.recurrence_weights(x).chunk(self.config.n_rnn, dim=1)
        if self.config.architecture == "compact":
            s0 = self.enc0(x)
            s1 = self.enc1(s0)
            y = self.enc2(s1)
            for layer, w in zip(self.rnns, weights, strict=True):
                y = layer(y, w, self.scan)
            y = _up2(self.dec2(y)) + s1
            y = _up2(self.dec1(y)) + s0
            y = self.dec0(y)
        else:
            s0 = self.enc0(x)
            pre = self.enc1(s0)
            y = pre
            for layer, w in zip(self.rnns, weights, strict=True):
                y = layer(y, w, self.scan)
            y = _up2(self.dec1(torch.cat([pre, y], dim=1)))
            y = self.dec0(torch.cat([y, s0], dim=1))
        if self.config.global_residual:
            y = torch.clamp(x + y, -1.0, 1.0)
        return y

