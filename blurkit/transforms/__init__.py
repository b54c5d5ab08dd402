"""blurkit's blur as a transform of the augmentation library you already use.

- :class:`AlbumentationsBlur` (``pip install blurkit[albumentations]``): an albumentations transform
  for ``A.Compose``; seeded by albumentations (``A.Compose(..., seed=...)`` is reproducible).
- :class:`TorchvisionBlur` (``pip install blurkit[torchvision]``): a ``torchvision.transforms.v2``
  transform on tensors, batched on the tensor's device (GPU or CPU); seeded by torch's generator
  (``torch.manual_seed``, or a ``torch.Generator`` of its own).

Each call draws a new kernel and degradation (noise, highlight boost, JPEG quality…) from a blurkit
preset: one 63-bit seed per image, from the host library's generator, then
:func:`blurkit.ops.degrade.sample_degradation`. Only the image is blurred; masks, boxes, keypoints and
extra image targets (a ``sharp`` copy for pairs) pass unchanged and stay aligned, because blurkit's
kernels are centred. The output equals ``blurkit.synth.blur_image(image, seed, preset)`` for the
drawn seed.

The work is done by plain functions (:func:`draw_seed`, :func:`sample_blur`, :func:`apply_blur`,
:func:`apply_blur_tensor`); the two classes are thin wrappers whose settings live in
:class:`BlurConfig`. albumentations and torchvision are imported only when their class is used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from blurkit.io import to_uint
from blurkit.kernels.psf import stack_kernels
from blurkit.ops.degrade import (
    Degradation,
    DegradeConfig,
    apply_degradation,
    resolve_config,
    sample_degradation,
)
from blurkit.tensors import to_image, to_tensor

if TYPE_CHECKING:  # pragma: no cover
    from blurkit.transforms._albumentations import AlbumentationsBlur
    from blurkit.transforms._torchvision import TorchvisionBlur

__all__ = [
    "AlbumentationsBlur",
    "BlurConfig",
    "TorchvisionBlur",
    "apply_blur",
    "apply_blur_tensor",
    "draw_seed",
    "sample_blur",
]

SEED_BOUND = 1 << 63


@dataclass(frozen=True)
class BlurConfig:
    """Settings shared by the transforms.

    Attributes:
        preset: a preset name (``blurkit presets``) or a :class:`blurkit.ops.degrade.DegradeConfig`.
        overrides: preset fields to change, e.g. ``{"length": (10, 40), "shot": 0}``; unknown
            names raise ``ValueError``.
        device: where :class:`AlbumentationsBlur` blurs its numpy images (``"cpu"`` or
            ``"cuda"``); :class:`TorchvisionBlur` blurs on the input tensor's device.

    >>> BlurConfig("deblurgan", {"length": 20}).degrade_config().length
    (20.0, 20.0)
    """

    preset: str | DegradeConfig = "realistic"
    overrides: Mapping[str, Any] | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        self.degrade_config()  # an unknown preset or field fails at construction

    def degrade_config(self) -> DegradeConfig:
        """The resolved degradation config."""
        return resolve_config(self.preset, self.overrides)


def draw_seed(rng: np.random.Generator) -> int:
    """One 63-bit blur seed from ``rng`` (the host library's generator).

    >>> draw_seed(np.random.default_rng(0)) == draw_seed(np.random.default_rng(0))
    True
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    return int(rng.integers(0, SEED_BOUND))


def sample_blur(seed: int, config: BlurConfig | DegradeConfig | str = "realistic") -> Degradation:
    """The kernel and record that ``seed`` draws (:func:`blurkit.ops.degrade.sample_degradation`).

    >>> d = sample_blur(5, BlurConfig("deblurgan", {"length": 9}))
    >>> d.record["seed"], d.record["length"], round(float(d.kernel.sum()), 4)
    (5, 9.0, 1.0)
    """
    cfg = config.degrade_config() if isinstance(config, BlurConfig) else resolve_config(config)
    return sample_degradation(seed, cfg)


def _to_float01(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype in (np.float32, np.float64):
        return arr.astype(np.float32, copy=False)
    raise ValueError(f"{name}: expected uint8 or float32 pixels, got {arr.dtype}")


def apply_blur(
    image: np.ndarray, kernel: np.ndarray, record: Mapping[str, Any], device: str | torch.device = "cpu"
) -> np.ndarray:
    """Blur one (H, W, 3) RGB image with a drawn kernel and record (see :func:`sample_blur`).

    Args:
        image: uint8, or float32 in [0, 1] (display values).
        kernel: (k, k) float32.
        record: the sample's record (``response``, ``boost``, ``shot``, ``read``, ``noise_seed``…).
        device: where the blur runs.

    Returns:
        The blurred image, same shape and dtype (uint8 rounded).

    >>> img = np.random.default_rng(0).random((24, 30, 3), dtype=np.float32)
    >>> d = sample_blur(3, "deblurgan")
    >>> from blurkit.synth import blur_image
    >>> bool((apply_blur(img, d.kernel, d.record) == blur_image(img, 3, "deblurgan")[0]).all())
    True
    """
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"image: expected an (H, W, 3) RGB array, got shape {arr.shape}")
    if arr.dtype == np.uint8 and str(device) == "cpu" and int(record.get("chain", 1)) == 2:
        from blurkit.ops.cpu_chain import degrade_image8  # 8-bit to 8-bit, the same bytes, no float copies

        return degrade_image8(arr, np.asarray(kernel, dtype=np.float32), record)
    x = to_tensor(_to_float01(arr, "image"), device)[None]
    k = torch.from_numpy(np.asarray(kernel, dtype=np.float32))[None].to(device)
    out = to_image(apply_degradation(x, k, [record])[0])
    if arr.dtype == np.uint8:
        return to_uint(out)
    return out.astype(arr.dtype, copy=False)


def apply_blur_tensor(
    images: torch.Tensor, kernels: torch.Tensor | np.ndarray | Sequence[np.ndarray], records: Sequence[Mapping[str, Any]]
) -> torch.Tensor:
    """Blur (3, H, W) or (B, 3, H, W) images on their device, one kernel and record per image.

    Args:
        images: uint8, or float in [0, 1]; any device.
        kernels: (B, k, k) stacked kernels, or a list of (k, k) kernels of any odd sizes.
        records: one record per image.

    Returns:
        The blurred images, same shape, dtype and device.

    >>> x = torch.rand(2, 3, 20, 20)
    >>> ds = [sample_blur(s, "deblurgan") for s in (1, 2)]
    >>> y = apply_blur_tensor(x, [d.kernel for d in ds], [d.record for d in ds])
    >>> y.shape, y.dtype
    (torch.Size([2, 3, 20, 20]), torch.float32)
    """
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images: expected a torch.Tensor, got {type(images).__name__}")
    single = images.ndim == 3
    x = images[None] if single else images
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"images: expected shape (3, H, W) or (B, 3, H, W), got {tuple(images.shape)}")
    if isinstance(kernels, torch.Tensor):
        k = kernels.to(device=x.device, dtype=torch.float32)
    else:
        k = torch.from_numpy(stack_kernels([np.asarray(kk, dtype=np.float32) for kk in kernels])).to(x.device)
    if k.ndim != 3 or k.shape[0] != x.shape[0]:
        raise ValueError(f"kernels: expected {x.shape[0]} kernels (B, k, k), got shape {tuple(k.shape)}")
    if x.dtype == torch.uint8:
        xf = x.float() / 255.0
    elif x.is_floating_point():
        xf = x.float()
    else:
        raise ValueError(f"images: expected uint8 or float pixels, got {x.dtype}")
    out = apply_degradation(xf, k, list(records))
    if x.dtype == torch.uint8:
        out = (out.double() * 255.0).round().clamp(0, 255).to(torch.uint8)  # as blurkit.io.to_uint
    else:
        out = out.to(x.dtype)
    return out[0] if single else out


def __getattr__(name: str) -> Any:
    if name == "AlbumentationsBlur":
        from blurkit.transforms._albumentations import AlbumentationsBlur

        return AlbumentationsBlur
    if name == "TorchvisionBlur":
        from blurkit.transforms._torchvision import TorchvisionBlur

        return TorchvisionBlur
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
