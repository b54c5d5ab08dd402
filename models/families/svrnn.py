"""The spatially variant RNN family (Zhang et al., CVPR 2018): pixel loss, no critic, tiled inference.

Training: the pixel-loss step of :mod:`models.families._pixel` (pixel MSE, the paper's Euclidean
loss, or L1, plus an optional perceptual term). Inference: :class:`SVRNNDeblurrer` runs images larger
than the network's ``sweep_tile`` in overlapping tiles of that size, so that no sweep runs further
than in training; its ONNX export runs the scan a fixed number of steps
(:data:`models.archs.scan.EXPORT_SCAN_STEPS`).
"""

from __future__ import annotations

import torch
from torch import nn

from models.archs.scan import EXPORT_SCAN_STEPS, linear_scan
from models.archs.svrnn import MIN_SIZE, SIZE_MULTIPLE, SVRNN, SVRNNConfig
from models.checkpoint import register_network
from models.families._pixel import PixelLossConfig as PixelLossConfig  # re-exported: the family's loss config
from models.families._pixel import pixel_family
from models.families._pixel import train_step as train_step  # re-exported: the family's step
from models.tiling import NetworkDeblurrer
from models.training.families import CONFIG_DIR, Comparison, register_family


class SVRNNDeblurrer(NetworkDeblurrer):
    """An :class:`~models.archs.svrnn.SVRNN` behind the :class:`models.base.Deblurrer` interface
    ([0, 1] in and out).

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
        net = SVRNN(self.net.config)
        net.load_state_dict(self.net.state_dict())
        net.scan = _fixed_scan
        return net.eval()


def _fixed_scan(a: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
    return linear_scan(a, b, dim, steps=EXPORT_SCAN_STEPS)


def _tile_defaults(net: SVRNN, tile: int | None, overlap: int | None) -> tuple[int | None, int]:
    """The tiling a deblurrer uses: the given one, else the network's ``sweep_tile``."""
    own = net.config.sweep_tile
    if tile is None and own:
        tile = own
    if overlap is None:
        overlap = max(net.config.size_multiple, tile // 4) if tile else 64
    return tile, overlap


NETWORK = register_network("svrnn", SVRNN, SVRNNConfig, SVRNNDeblurrer)
save_generator = NETWORK.save
generator_from_state = NETWORK.from_state
load_generator = NETWORK.load

FAMILY = register_family(
    pixel_family(
        name="svrnn",
        label="Spatially variant RNN (Zhang et al. 2018)",
        summary="recurrent sweeps as a parallel scan, pixel loss",
        network=NETWORK,
        size_multiple=SIZE_MULTIPLE,
        configs={
            "svrnn.toml": "the authors' released network (9.23 M parameters), for a GPU",
            "svrnn_cpu.toml": "compact, about 20 minutes on 2 CPU cores (made models/weights/svrnn_blurkit.pt)",
            "svrnn_small.toml": "compact, CPU smoke runs and model comparisons",
        },
        comparison=Comparison(
            CONFIG_DIR / "svrnn_small.toml", CONFIG_DIR / "svrnn.toml", published="29.19 / 0.931"
        ),
    )
)
