"""The albumentations transform (needs ``pip install blurkit[albumentations]``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from blurkit.ops.degrade import DegradeConfig
from blurkit.transforms import BlurConfig, apply_blur, draw_seed, sample_blur

try:
    import albumentations as A
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "blurkit.transforms.AlbumentationsBlur needs albumentations: pip install 'blurkit[albumentations]'"
    ) from e


class AlbumentationsBlur(A.ImageOnlyTransform):
    """Camera-shake blur and degradation from a blurkit preset, a new draw per call.

    Only ``image`` is blurred (and each image of ``images``, all with the call's one draw). Masks, boxes and keypoints pass
    unchanged, and so do extra image targets declared with ``additional_targets`` — give the pipeline
    the sharp image as ``sharp`` (``additional_targets={"sharp": "image"}``) and the crops and flips
    before this transform apply to both, while the blur applies to ``image`` alone: an aligned pair.

    Randomness comes from albumentations: ``A.Compose(..., seed=s)`` reproduces a pipeline. Each call
    draws one blur seed from the transform's ``random_generator``; :meth:`get_params` returns it with
    the kernel and the record of every drawn value (length, exposure, noise levels and seed, JPEG
    quality…), which ``A.Compose(..., save_applied_params=True)`` keeps for logging. The result
    equals ``blurkit.synth.blur_image(image, params["seed"], preset, overrides)`` (float32 images;
    uint8 images are blurred as ``image / 255`` and rounded back).

    Args:
        preset, overrides, device: see :class:`blurkit.transforms.BlurConfig`.
        p: probability of applying the transform.

    Example:
        >>> import albumentations as A
        >>> aug = A.Compose([A.RandomCrop(32, 32), AlbumentationsBlur("deblurgan", {"length": 9})],
        ...                 additional_targets={"sharp": "image"}, seed=0)
        >>> img = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
        >>> out = aug(image=img, sharp=img)
        >>> out["image"].shape, out["sharp"].shape, bool((out["image"] != out["sharp"]).any())
        ((32, 32, 3), (32, 32, 3), True)
    """

    def __init__(
        self,
        preset: str | DegradeConfig = "realistic",
        overrides: Mapping[str, Any] | None = None,
        device: str = "cpu",
        p: float = 1.0,
    ) -> None:
        super().__init__(p=p)
        self.config = BlurConfig(preset=preset, overrides=dict(overrides) if overrides else None, device=device)
        self._degrade = self.config.degrade_config()
        self.preset = preset
        self.overrides = self.config.overrides
        self.device = device

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("preset", "overrides", "device")

    def add_targets(self, additional_targets: dict[str, str]) -> None:
        """Extra targets (a ``sharp`` copy, more images or masks) are passed through unblurred."""

    def get_params(self) -> dict[str, Any]:
        """Draw this call's blur: ``{"seed", "kernel", "record"}``."""
        seed = draw_seed(self.random_generator)
        deg = sample_blur(seed, self._degrade)
        return {"seed": seed, "kernel": deg.kernel, "record": deg.record}

    def apply(self, img: np.ndarray, kernel: np.ndarray, record: dict[str, Any], **params: Any) -> np.ndarray:
        return apply_blur(img, kernel, record, device=self.config.device)
