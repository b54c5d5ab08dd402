"""DeblurGAN-v2 (Kupyn et al., ICCV 2019): the FPN-MobileNetV2 generator and the double-scale critic.

Kupyn, Martyniuk, Wu and Wang, "DeblurGAN-v2: Deblurring (Orders-of-Magnitude) Faster and Better",
ICCV 2019 — the ``FPNMobileNet`` generator with the ``double_gan`` critic of the authors' released
MobileNet model (their README's model table; the ``config/config.yaml`` they ship selects
``fpn_inception`` and ``wgan-gp``). Its RaLSGAN loss and training step: ``models.families.deblurganv2``.

Generator (images in [-1, 1], side a multiple of 32)::

    MobileNetV2 features (torchvision layout)
      enc0 = features[0:2]    1/2,  16 ch      enc1 = features[2:4]    1/4,  24 ch
      enc2 = features[4:7]    1/8,  32 ch      enc3 = features[7:11]   1/16, 64 ch
      enc4 = features[11:16]  1/32, 160 ch
    FPN: lateral 1×1 convs (→ P channels; P/2 for enc0), top-down: m4 = lat4,
      m_k = td_k(lat_k + nearest×2(m_{k+1})) for k = 3, 2, 1 (td = conv 3×3, IN, ReLU)
    heads (segmentation style): 2 × [conv 3×3, ReLU] (P → H → H) on m1 … m4, upsampled (nearest)
      to 1/4 and concatenated (4H) → smooth: conv 3×3 (4H → H), IN, ReLU
      → nearest×2, + lat0 → smooth2: conv 3×3 (H → H/2), IN, ReLU → nearest×2 → conv 3×3 (H/2 → 3)
    output = clamp(input + tanh(final), -1, 1)

Defaults P = 128, H = 64 (the paper's MobileNet model). ``dsc = true`` makes every 3×3 conv of the
FPN, heads and smoothing layers depthwise-separable (3×3 depthwise + 1×1 pointwise: the paper's
"MobileNet-DSC"). ``width_mult`` < 1 thins the backbone (torchvision's MobileNetV2 width multiplier;
channel counts are read from the built modules) for CPU-sized models. The final conv starts at zero,
so an untrained generator is the identity (as ``models.archs.deblurgan``; the paper does not say).
Its other layers start N(0, 0.02) as DeblurGAN's (the authors keep PyTorch's defaults).

Backbone weights (``pretrained = true``, training only): the file in ``backbone_weights`` or
``$BLURKIT_MOBILENET_WEIGHTS`` (a torchvision ``mobilenet_v2`` state dict, whole or ``features.*``),
else torchvision's ImageNet download, else random initialisation — never an error; the log says
which (logger ``models.archs.deblurganv2``). Loading a checkpoint never touches them.

Critic: double-scale, as the authors' ``DoubleGAN``: a local PatchGAN (``local_layers = 3``, 70×70
patches) and a global one (``global_layers = 5``, a receptive field of 286 px, i.e. the whole
training crop), both :class:`models.archs.deblurgan.Critic` applied to the whole image.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.archs.deblurgan import Critic, CriticConfig, init_weights
from models.checkpoint import read_weights_file

LOG = logging.getLogger(__name__)

#: Spatial multiple the generator needs (five stride-2 stages).
SIZE_MULTIPLE = 32
#: Smallest input side (the 1/16 FPN level needs 2×2 for instance norm).
MIN_SIZE = 32
#: Environment variable naming a local MobileNetV2 state dict.
MOBILENET_WEIGHTS_ENV = "BLURKIT_MOBILENET_WEIGHTS"
#: MobileNetV2 ``features`` slices of the five encoder stages (the authors' FPN).
STAGES = ((0, 2), (2, 4), (4, 7), (7, 11), (11, 16))


@dataclass(frozen=True)
class FPNMobileNetConfig:
    """FPN-MobileNetV2 generator hyper-parameters (defaults: the paper's MobileNet model).

    Attributes:
        fpn_channels: FPN lateral/top-down channels (128).
        head_channels: channels of the segmentation heads and smoothing (64).
        width_mult: MobileNetV2 width multiplier (1.0; pretrained weights need 1.0).
        dsc: depthwise-separable 3×3 convs in FPN, heads and smoothing ("MobileNet-DSC").
        pretrained: start the backbone from ImageNet weights when they can be found (training only).
        backbone_weights: local MobileNetV2 state dict file ("" : ``$BLURKIT_MOBILENET_WEIGHTS`` or download).
        global_residual: add the input to the tanh branch and clamp to [-1, 1].
    """

    fpn_channels: int = 128
    head_channels: int = 64
    width_mult: float = 1.0
    dsc: bool = False
    pretrained: bool = True
    backbone_weights: str = ""
    global_residual: bool = True

    def __post_init__(self) -> None:
        if self.fpn_channels < 2 or self.fpn_channels % 2:
            raise ValueError(f"fpn_channels: must be an even number >= 2, got {self.fpn_channels}")
        if self.head_channels != self.fpn_channels // 2:
            raise ValueError(
                f"head_channels: must be fpn_channels / 2 = {self.fpn_channels // 2} "
                f"(the 1/2-scale lateral is added to the heads), got {self.head_channels}"
            )
        if not self.width_mult > 0:
            raise ValueError(f"width_mult: must be > 0, got {self.width_mult}")


@dataclass(frozen=True)
class DoubleCriticConfig:
    """Double-scale critic: local (70×70) and global PatchGANs.

    Attributes:
        base_channels: channels of each critic's first conv (64).
        local_layers: stride-2 stages of the local critic (3: 70×70 patches).
        global_layers: stride-2 stages of the global critic (5: 286×286, the whole 256 crop).
    """

    base_channels: int = 64
    local_layers: int = 3
    global_layers: int = 5

    def __post_init__(self) -> None:
        if self.base_channels < 1:
            raise ValueError(f"base_channels: must be >= 1, got {self.base_channels}")
        if self.local_layers < 1 or self.global_layers < 1:
            raise ValueError(
                f"local_layers/global_layers: must be >= 1, got {self.local_layers}, {self.global_layers}"
            )


# --------------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------------
def conv3x3(cin: int, cout: int, dsc: bool = False, bias: bool = True) -> nn.Module:
    """3×3 conv, or depthwise 3×3 + pointwise 1×1 when ``dsc``."""
    if not dsc:
        return nn.Conv2d(cin, cout, 3, padding=1, bias=bias)
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=bias)
    )


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


def _conv_norm_relu(cin: int, cout: int, dsc: bool) -> nn.Sequential:
    return nn.Sequential(conv3x3(cin, cout, dsc), _norm(cout), nn.ReLU(inplace=True))


def _up(x: torch.Tensor, factor: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=float(factor), mode="nearest")


def mobilenet_backbone(config: FPNMobileNetConfig, init_from_pretrained: bool) -> tuple[nn.Sequential, str]:
    """torchvision's MobileNetV2 ``features`` and where its weights came from.

    Args:
        config: generator config (``width_mult``, ``pretrained``, ``backbone_weights``).
        init_from_pretrained: look for ImageNet weights at all (False when a checkpoint follows).

    Returns:
        ``features`` and one of ``"random"``, ``"file:PATH"``, ``"torchvision"``.
    """
    import torchvision

    net = torchvision.models.mobilenet_v2(weights=None, width_mult=config.width_mult)
    if not init_from_pretrained:  # a checkpoint's weights follow
        return net.features, "random"
    if not config.pretrained:
        LOG.warning("MobileNetV2 backbone: random initialisation (pretrained = false)")
        return net.features, "random"
    if config.width_mult != 1.0:
        LOG.warning(
            "MobileNetV2 width_mult=%s: no ImageNet weights for it; backbone from scratch", config.width_mult
        )
        return net.features, "random"
    source = config.backbone_weights or os.environ.get(MOBILENET_WEIGHTS_ENV, "")
    if source:
        path, state = read_weights_file(source, "MobileNetV2")
        state = state.get("state_dict", state)
        feats = {
            k.removeprefix("module.").removeprefix("features."): v
            for k, v in state.items()
            if k.removeprefix("module.").startswith("features.")
        } or dict(state)
        try:
            net.features.load_state_dict({k: v.float() for k, v in feats.items()})
        except RuntimeError as exc:
            raise ValueError(f"{path}: not a torchvision mobilenet_v2 state dict: {exc}") from exc
        LOG.warning("MobileNetV2 backbone: ImageNet weights from %s", path)
        return net.features, f"file:{path}"
    try:
        pre = torchvision.models.mobilenet_v2(weights=torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1)
    except Exception as exc:
        LOG.warning(
            "MobileNetV2 backbone: no ImageNet weights (download failed: %s); training from scratch. "
            "Set backbone_weights or $%s to a local mobilenet_v2 state dict.",
            exc,
            MOBILENET_WEIGHTS_ENV,
        )
        return net.features, "random"
    LOG.warning("MobileNetV2 backbone: ImageNet weights from torchvision's download")
    return pre.features, "torchvision"


class FPNHead(nn.Module):
    """Segmentation-style head: 2 × [conv 3×3, ReLU]."""

    def __init__(self, cin: int, cmid: int, cout: int, dsc: bool) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv3x3(cin, cmid, dsc, bias=False),
            nn.ReLU(inplace=True),
            conv3x3(cmid, cout, dsc, bias=False),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class FPNMobileNet(nn.Module):
    """DeblurGAN-v2 generator: (B, 3, H, W) in [-1, 1] → same shape; H, W multiples of 32."""

    def __init__(
        self, config: FPNMobileNetConfig = FPNMobileNetConfig(), init_from_pretrained: bool = False
    ) -> None:
        super().__init__()
        self.config = config
        features, self.backbone_source = mobilenet_backbone(config, init_from_pretrained)
        self.encoders = nn.ModuleList(nn.Sequential(*features[a:b]) for a, b in STAGES)
        chans = [int(features[b - 1].out_channels) for _, b in STAGES]  # type: ignore[union-attr, arg-type]
        p, h, dsc = config.fpn_channels, config.head_channels, config.dsc
        self.laterals = nn.ModuleList(
            nn.Conv2d(c, p // 2 if i == 0 else p, 1, bias=False) for i, c in enumerate(chans)
        )
        self.top_down = nn.ModuleList(_conv_norm_relu(p, p, dsc) for _ in range(3))  # levels 3, 2, 1
        self.heads = nn.ModuleList(FPNHead(p, h, h, dsc) for _ in range(4))  # levels 1 … 4
        self.smooth = _conv_norm_relu(4 * h, h, dsc)
        self.smooth2 = _conv_norm_relu(h, h // 2, dsc)
        self.final = nn.Conv2d(h // 2, 3, 3, padding=1)
        init_weights(nn.ModuleList([self.laterals, self.top_down, self.heads, self.smooth, self.smooth2]))
        if config.global_residual:
            nn.init.zeros_(self.final.weight)
            nn.init.zeros_(self.final.bias)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % SIZE_MULTIPLE or x.shape[-1] % SIZE_MULTIPLE:
            raise ValueError(
                f"input size {tuple(x.shape[-2:])}: height and width must be multiples of {SIZE_MULTIPLE} "
                "(pad first, e.g. with models.tiling.restore_padded)"
            )
        encs = []
        y = x
        for enc in self.encoders:
            y = enc(y)
            encs.append(y)
        lat = [conv(e) for conv, e in zip(self.laterals, encs, strict=True)]
        maps = [lat[4]]  # m4, m3, m2, m1
        for k, td in zip((3, 2, 1), self.top_down, strict=True):
            maps.append(td(lat[k] + _up(maps[-1], 2)))
        m4, m3, m2, m1 = maps
        heads = [
            _up(self.heads[3](m4), 8),
            _up(self.heads[2](m3), 4),
            _up(self.heads[1](m2), 2),
            self.heads[0](m1),
        ]
        y = _up(self.smooth(torch.cat(heads, dim=1)), 2)
        y = _up(self.smooth2(y + lat[0]), 2)
        y = torch.tanh(self.final(y))
        if self.config.global_residual:
            y = torch.clamp(x + y, -1.0, 1.0)
        return y


class DoubleCritic(nn.Module):
    """Local and global PatchGAN critics; ``forward`` returns both score maps."""

    def __init__(self, config: DoubleCriticConfig = DoubleCriticConfig()) -> None:
        super().__init__()
        self.config = config
        self.local = Critic(CriticConfig(config.base_channels, config.local_layers))
        self.full = Critic(CriticConfig(config.base_channels, config.global_layers))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.local(x), self.full(x)]

