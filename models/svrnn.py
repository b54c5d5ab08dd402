"""Spatially variant RNN deblurring (Zhang et al., CVPR 2018): scan, network, loss, checkpoints.

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
identity (as ``models.deblurgan``).

The recurrence runs along one axis with batch, channels and the other axis vectorised. Two
implementations agree to float rounding: :func:`linear_scan` (default), a Hillis–Steele parallel
prefix scan of the affine maps ``h ↦ a·h + b`` (``ceil(log2 L)`` vectorised steps, plain torch ops,
so autograd gives its gradient), and :func:`linear_scan_loop`, the sequential reference (a Python
loop over the scan axis only).

Loss: pixel MSE (the paper's Euclidean loss), ``[loss] pixel = "l1"`` for L1, plus an optional VGG
perceptual term (``models.losses.PerceptualLoss``, weight ``perceptual_weight``; 0 in the shipped
configs).

ONNX: the scan exports (Pad, Slice, Mul, Add, Flip as Slice); the exported graph runs a fixed
number of scan steps (:data:`EXPORT_SCAN_STEPS`), enough for sides up to ``4 · 2**EXPORT_SCAN_STEPS``
pixels.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from models.base import Deblurrer, register_checkpoint_loader
from models.checkpoint import load_mapping, network_from_state, read_network, save_network
from models.losses import pixel_loss
from models.tiling import NetworkDeblurrer

#: Spatial multiple the wrapper pads to (serves both architectures; see SVRNNConfig.size_multiple).
SIZE_MULTIPLE = 8
#: Smallest input side.
MIN_SIZE = 8
#: Scan steps of an exported graph (sequences up to 2**14 positions at 1/4 or 1/2 resolution).
EXPORT_SCAN_STEPS = 14
#: ``kind`` tag of the shipped single-file format.
GENERATOR_KIND = "blurkit.svrnn.generator"
#: ``kind`` tag of training checkpoints written by ``models.train``.
TRAIN_KIND = "blurkit.svrnn.train"
#: Sweep directions: (spatial dim of a (B, C, H, W) tensor, reversed).
DIRECTIONS: tuple[tuple[int, bool], ...] = ((3, False), (3, True), (2, False), (2, True))


# --------------------------------------------------------------------------------------------------
# The recurrence
# --------------------------------------------------------------------------------------------------
def _check_scan_args(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"a/b: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")
    if a.ndim < 1:
        raise ValueError("a/b: need at least one dimension (the scan axis)")


def linear_scan(a: torch.Tensor, b: torch.Tensor, dim: int = -1, steps: int | None = None) -> torch.Tensor:
    """``h_t = a_t · h_{t-1} + b_t`` along ``dim`` with ``h_{-1} = 0``, as a log-depth parallel scan.

    Hillis–Steele inclusive scan of the affine maps ``h ↦ a·h + b``: after the step with shift ``d``,
    position ``t`` holds the composition of the maps ``t-2d+1 … t``. ``ceil(log2 L)`` steps of
    elementwise work, all other axes vectorised; differentiable by autograd.

    Args:
        a, b: tensors of one shape; the recurrence runs along ``dim``.
        dim: the scan axis.
        steps: number of doubling steps (default ``ceil(log2 L)``; more steps are harmless, which lets
            a traced graph with a fixed count handle any length up to ``2**steps``).

    >>> linear_scan(torch.tensor([0.5, 0.5, 0.5]), torch.tensor([1.0, 1.0, 1.0])).tolist()
    [1.0, 1.5, 1.75]
    """
    _check_scan_args(a, b)
    last = a.ndim - 1
    dim = dim % a.ndim  # non-negative axes only: ONNX Transpose refuses negative permutations
    if dim != last:
        a, b = a.transpose(dim, last), b.transpose(dim, last)
    length = a.shape[-1]
    if steps is None:
        steps = max(0, math.ceil(math.log2(length))) if length > 1 else 0
    shift = 1
    for _ in range(steps):
        # compose with the map ``shift`` positions earlier (identity map before the start)
        a_prev = F.pad(a, (shift, 0), value=1.0)[..., :length]
        b_prev = F.pad(b, (shift, 0), value=0.0)[..., :length]
        b = a * b_prev + b
        a = a * a_prev
        shift *= 2
    return b if dim == last else b.transpose(dim, last)


def linear_scan_loop(a: torch.Tensor, b: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Reference for :func:`linear_scan`: a sequential loop over the scan axis (only that axis)."""
    _check_scan_args(a, b)
    a, b = a.movedim(dim, 0), b.movedim(dim, 0)
    h = torch.zeros_like(b[0])
    out = []
    for t in range(a.shape[0]):
        h = a[t] * h + b[t]
        out.append(h)
    return torch.stack(out).movedim(0, dim)


Scan = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


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
        scan: :func:`linear_scan` or :func:`linear_scan_loop`.
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


# --------------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------------
#: The two architectures: this package's compact network and the authors' released one.
ARCHITECTURES = ("compact", "released")
#: How a sweep starts: from a zero state (the authors' code) or by passing the first position.
INITIAL_STATES = ("zero", "first")


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


# --------------------------------------------------------------------------------------------------
# Loss and training step (called by models.train)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SVRNNLossConfig:
    """``[loss]`` of an ``svrnn`` run.

    Attributes:
        pixel: ``"mse"`` (the paper's Euclidean loss) or ``"l1"``.
        pixel_weight: weight of the pixel term (on images in [0, 1]).
        perceptual: VGG variant of the optional perceptual term (``models.losses``), or ``"none"``.
        perceptual_weight: its weight (0 disables it without loading VGG).
    """

    pixel: str = "mse"
    pixel_weight: float = 1.0
    perceptual: str = "none"
    perceptual_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.pixel not in ("mse", "l1"):
            raise ValueError(f"pixel: must be 'mse' or 'l1', got {self.pixel!r}")
        if self.pixel_weight < 0 or self.perceptual_weight < 0:
            raise ValueError(
                f"loss weights: must be >= 0, got pixel {self.pixel_weight}, perceptual {self.perceptual_weight}"
            )

    @property
    def uses_perceptual(self) -> bool:
        return self.perceptual != "none" and self.perceptual_weight > 0


def train_step(
    generator: nn.Module,
    critics: list[nn.Module],
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer | None,
    x: torch.Tensor,
    y: torch.Tensor,
    loss: SVRNNLossConfig,
    perceptual: nn.Module | None,
    autocast: Callable[[], Any],
    reduce_critic_grads: Callable[[], None],
) -> tuple[torch.Tensor, dict[str, float]]:
    """One optimiser step on ``pixel_weight · pixel + perceptual_weight · perceptual`` (no critic).

    Returns:
        The generator output (before the step) and the logged losses.
    """
    opt_g.zero_grad(set_to_none=True)
    with autocast():
        fake = generator(x)
    loss_pix = pixel_loss(fake, y, loss.pixel)
    if perceptual is not None and loss.uses_perceptual:
        with autocast():
            loss_p = perceptual(fake, y).float()
    else:
        loss_p = torch.zeros((), device=fake.device)
    loss_g = loss.pixel_weight * loss_pix + loss.perceptual_weight * loss_p
    loss_g.backward()
    opt_g.step()
    return fake, {
        "loss_pixel": float(loss_pix.detach()),
        "loss_perceptual": float(loss_p.detach()),
        "loss_g": float(loss_g.detach()),
    }


# --------------------------------------------------------------------------------------------------
# Deblurrer wrapper, checkpoints
# --------------------------------------------------------------------------------------------------
class SVRNNDeblurrer(NetworkDeblurrer):
    """An :class:`SVRNN` behind the :class:`models.base.Deblurrer` interface ([0, 1] in and out).

    Any size: reflect-pad to a multiple of 8, crop back. With ``tile`` set, large images run in
    overlapping tiles (bounded memory; the sweeps then see one tile, not the whole image); by
    default the network's ``sweep_tile`` (``tile`` and ``overlap`` arguments override it).
    """

    net: SVRNN
    size_multiple = SIZE_MULTIPLE
    min_size = MIN_SIZE

    def __init__(
        self,
        net: SVRNN,
        device: str | torch.device = "cpu",
        tile: int | None = None,
        overlap: int | None = None,
        name: str = "network",
    ) -> None:
        tile, overlap = _tile_defaults(net, tile, overlap)
        super().__init__(net, device=device, tile=tile, overlap=overlap, name=name)

    def export_module(self) -> nn.Module:
        """The network prepared for ONNX tracing: the scan runs :data:`EXPORT_SCAN_STEPS` steps."""

        def fixed_scan(a: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
            return linear_scan(a, b, dim, steps=EXPORT_SCAN_STEPS)

        net = build_generator(self.net.config)
        net.load_state_dict(self.net.state_dict())
        net.scan = fixed_scan
        return net.eval()


def build_generator(config: SVRNNConfig) -> SVRNN:
    """A fresh network (the factory ``models.train`` calls)."""
    return SVRNN(config)


def save_generator(net: nn.Module, path: str | os.PathLike[str], half: bool = True) -> None:
    """Write the shipped single-file format: architecture + (half-precision) weights and buffers."""
    if not isinstance(net, SVRNN):
        raise ValueError(f"save_generator: expected an SVRNN, got {type(net).__name__}")
    save_network(net, GENERATOR_KIND, path, half)


def net_from_state(config: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> SVRNN:
    """A float32 :class:`SVRNN` from a config mapping and a state dict (any float dtype)."""
    return network_from_state(SVRNN, SVRNNConfig, config, state, "svrnn")


def _net_or_none(path: Path) -> SVRNN | None:
    obj = load_mapping(path)
    return None if obj is None else read_network(obj, GENERATOR_KIND, TRAIN_KIND, net_from_state)


@register_checkpoint_loader
def _load_checkpoint(path: Path, device: str | torch.device) -> Deblurrer | None:
    net = _net_or_none(path)
    if net is None:
        return None
    return SVRNNDeblurrer(net, device=device, name=f"svrnn:{path.stem}")


def _tile_defaults(net: SVRNN, tile: int | None, overlap: int | None) -> tuple[int | None, int]:
    """The tiling a deblurrer uses: the given one, else the network's ``sweep_tile``."""
    own = net.config.sweep_tile
    if tile is None and own:
        tile = own
    if overlap is None:
        overlap = max(net.config.size_multiple, tile // 4) if tile else 64
    return tile, overlap
