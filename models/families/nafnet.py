"""The NAFNet family (Chen et al., ECCV 2022): the pixel-loss step, tiled inference on request.

Training: the pixel-loss step of :mod:`models.families._pixel` (``[loss] pixel = "mse"`` or
``"l1"``, optional perceptual term). Inference: :class:`NAFNetDeblurrer` pads to the configured
network's own size multiple, and runs tiles of the network's ``tile`` when it has one.
"""

from __future__ import annotations

import torch

from models.archs.nafnet import MIN_SIZE, SIZE_MULTIPLE, NAFNet, NAFNetConfig
from models.checkpoint import register_network
from models.families._pixel import pixel_family
from models.tiling import NetworkDeblurrer
from models.training.families import register_family


class NAFNetDeblurrer(NetworkDeblurrer):
    """A :class:`~models.archs.nafnet.NAFNet` behind the :class:`models.base.Deblurrer` interface
    ([0, 1] in and out, any size: reflect-padded to the network's multiple and cropped back; tiles
    when ``tile`` is set, by default the network's own ``tile``; the scale ensemble of the network's
    ``scales`` unless ``scales`` is given)."""

    net: NAFNet
    min_size = MIN_SIZE

    def __init__(
        self,
        net: NAFNet,
        device: str | torch.device = "cpu",
        tile: int | None = None,
        overlap: int | None = None,
        name: str = "network",
        scales: tuple[float, ...] | None = None,
    ) -> None:
        self.size_multiple = net.config.size_multiple
        if tile is None and net.config.tile:
            tile = net.config.tile
        if overlap is None:
            overlap = max(self.size_multiple, (tile or 256) // 4)
        scales = net.config.scales if scales is None else scales
        super().__init__(net, device=device, tile=tile, overlap=overlap, name=name, scales=scales)


NETWORK = register_network("nafnet", NAFNet, NAFNetConfig, NAFNetDeblurrer)
save_generator = NETWORK.save
generator_from_state = NETWORK.from_state
load_generator = NETWORK.load

FAMILY = register_family(
    pixel_family(
        name="nafnet",
        label="NAFNet (Chen et al. 2022)",
        summary="U-Net of gated blocks without activations, pixel loss",
        network=NETWORK,
        size_multiple=SIZE_MULTIPLE,
        configs={
            "nafnet_cpu.toml": "small NAFNet on the video preset, CPU budget (the sim-to-real study's network)",
            "nafnet_gpu.toml": "the same recipe, twice the width, for minutes on one GPU",
        },
    )
)
