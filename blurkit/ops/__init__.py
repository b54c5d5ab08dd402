"""Image operations: batched convolution and the degradation chain (colour, noise, compression)."""

from typing import Any

from blurkit.ops.degrade import (
    PRESETS,
    DegradeConfig,
    apply_degradation,
    degrade_batch,
    resolve_config,
    sample_degradation,
)


def __getattr__(name: str) -> Any:
    if name == "convolve":  # torch, imported when asked for: the CPU chain runs without it
        from blurkit.ops.convolve import convolve

        return convolve
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PRESETS",
    "DegradeConfig",
    "apply_degradation",
    "convolve",
    "degrade_batch",
    "resolve_config",
    "sample_degradation",
]
