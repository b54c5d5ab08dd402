"""Blur kernels: random camera-shake trajectories, straight lines and external banks, all normalised,
centred and rasterised the same way (see :mod:`blurkit.kernels.psf` for the conventions)."""

from blurkit.kernels.bank import load_kernel_bank
from blurkit.kernels.line import line_kernel
from blurkit.kernels.psf import centroid, normalize_kernel, rasterize, stack_kernels
from blurkit.kernels.trajectory import (
    KernelBatch,
    Trajectories,
    TrajectoryParams,
    kernels_from_seeds,
    sample_kernels,
    sample_trajectories,
    trajectories_from_seeds,
)

__all__ = [
    "KernelBatch",
    "Trajectories",
    "TrajectoryParams",
    "centroid",
    "kernels_from_seeds",
    "line_kernel",
    "load_kernel_bank",
    "normalize_kernel",
    "rasterize",
    "sample_kernels",
    "sample_trajectories",
    "stack_kernels",
    "trajectories_from_seeds",
]
