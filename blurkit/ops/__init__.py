"""Image operations: batched convolution and the degradation chain (colour, noise, compression)."""

from blurkit.ops.convolve import convolve
from blurkit.ops.degrade import (
    PRESETS,
    DegradeConfig,
    apply_degradation,
    degrade_batch,
    resolve_config,
    sample_degradation,
)

__all__ = [
    "PRESETS",
    "DegradeConfig",
    "apply_degradation",
    "convolve",
    "degrade_batch",
    "resolve_config",
    "sample_degradation",
]
