"""The NAFNet family (Chen et al., ECCV 2022): the pixel-loss step, tiled inference on request.

Training: the pixel-loss step of :mod:`models.families._pixel` (``[loss] pixel = "mse"`` or
``"l1"``, optional perceptual term). Inference: :class:`NAFNetDeblurrer` pads to the configured
network's own size multiple, and runs tiles of the network's ``tile`` when it has one.
"""

from __future__ import annotations

import torch

from models.archs.nafnet import MIN_SIZE, SIZE_MULTIPLE, NAFNet, NAFNetConfig
from models.checkpoint import register_network
from models.families._pixel import LOG_FIELDS, PixelLossConfig, perceptual_variant, train_step
from models.tiling import NetworkDeblurrer
from models.training.families import ModelFamily, register_family


class NAFNetDeblurrer(NetworkDeblurrer):
    """A :class:`~models.archs.nafnet.NAFNet` behind the :class:`models.base.Deblurrer` interface
    ([0, 1] in and out, any size: reflect-padded to the network's multiple and cropped back; tiles
    when ``tile`` is set, by default the network's own ``tile``)."""

    net: NAFNet
    min_size = MIN_SIZE

    def __init__(
        self,
        net: NAFNet,
        device: str | torch.device = "cpu",
        tile: int | None = None,
        overlap: int | None = None,
        name: str = "network",
    ) -> None:
        self.size_multiple = net.config.size_multiple
        if tile is None and net.config.tile:
            tile = net.config.tile
        if overlap is None:
            overlap = max(self.size_multiple, (tile or 256) // 4)
        super().__init__(net, device=device, tile=tile, overlap=overlap, name=name)


NETWORK = register_network("nafnet", NAFNet, NAFNetConfig, NAFNetDeblurrer)
save_generator = NETWORK.save
generator_from_state = NETWORK.from_state
load_generator = NETWORK.load

FAMILY = register_family(
    ModelFamily(
        name="nafnet",
        label="NAFNet (Chen et al. 2022)",
        summary="U-Net of gated blocks without activations, pixel loss",
        network=NETWORK,
        loss_config=PixelLossConfig,
        train_step=train_step,
        log_fields=LOG_FIELDS,
        size_multiple=SIZE_MULTIPLE,
        perceptual_variant=perceptual_variant,
        configs={
            "nafnet_cpu.toml": "small NAFNet on the video preset, CPU budget (the sim-to-real study's network)",
        },
    )
)
