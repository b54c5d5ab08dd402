"""The torchvision ``transforms.v2`` transform (needs ``pip install blurkit[torchvision]``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from blurkit.ops.degrade import DegradeConfig
from blurkit.tensors import hwc_to_chw, to_image
from blurkit.transforms import SEED_BOUND, BlurConfig, apply_blur_tensor, sample_blur

try:
    import PIL.Image
    from torchvision import tv_tensors
    from torchvision.transforms import v2
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "blurkit.transforms.TorchvisionBlur needs torchvision: pip install 'blurkit[torchvision]'"
    ) from e


def _is_image(x: Any) -> bool:
    return isinstance(x, (tv_tensors.Image, PIL.Image.Image))


class TorchvisionBlur(v2.Transform):
    """Camera-shake blur and degradation from a blurkit preset, for ``torchvision.transforms.v2``.

    The first image of the sample is blurred — the first ``tv_tensors.Image`` or PIL image, else the
    first plain tensor — and everything else passes unchanged: a second image (the sharp target of a
    pair), masks, boxes, labels. Call a pipeline with ``(image, sharp)`` and the crops and flips
    before this transform apply to both, the blur to ``image`` alone.

    A (3, H, W) image gets one kernel, a (B, 3, H, W) batch one kernel per image; the blur runs on
    the tensor's device (a CUDA batch is blurred on the GPU). uint8 and float images in [0, 1] keep
    their dtype; PIL images come back as PIL images.

    Randomness: one 63-bit seed per image from ``generator`` — by default torch's global generator,
    as every torchvision random transform, so ``torch.manual_seed`` reproduces a pipeline and
    DataLoader workers draw different blurs. :meth:`make_params` returns the seeds, kernels and
    records (``transform.make_params([img])``); the result for seed ``s`` equals
    ``blurkit.synth.blur_image(image, s, preset, overrides)``.

    Args:
        preset, overrides: see :class:`blurkit.transforms.BlurConfig`.
        generator: a ``torch.Generator`` of its own (note that DataLoader workers copy it, so every
            worker would draw the same blurs); ``None`` uses torch's global generator.

    Example:
        >>> from torchvision.transforms import v2
        >>> _ = torch.manual_seed(0)
        >>> aug = v2.Compose([v2.RandomCrop(32), TorchvisionBlur("deblurgan", {"length": 9})])
        >>> img = tv_tensors.Image(torch.rand(3, 48, 64))
        >>> blurred, sharp = aug(img, img.clone())
        >>> blurred.shape, sharp.shape, bool((blurred != sharp).any())
        (torch.Size([3, 32, 32]), torch.Size([3, 32, 32]), True)
    """

    def __init__(
        self,
        preset: str | DegradeConfig = "realistic",
        overrides: Mapping[str, Any] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.config = BlurConfig(preset=preset, overrides=dict(overrides) if overrides else None)
        self._degrade = self.config.degrade_config()
        self.generator = generator

    def _needs_transform_list(self, flat_inputs: list[Any]) -> list[bool]:
        first = next((i for i, x in enumerate(flat_inputs) if _is_image(x)), None)
        if first is None:
            first = next(
                (i for i, x in enumerate(flat_inputs) if isinstance(x, torch.Tensor) and type(x) is torch.Tensor),
                None,
            )
        return [i == first for i in range(len(flat_inputs))]

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        """Draw one blur per image: ``{"seeds", "kernels", "records"}``."""
        if not flat_inputs:
            return {"seeds": [], "kernels": [], "records": []}
        x = flat_inputs[0]
        n = 1 if isinstance(x, PIL.Image.Image) or x.ndim == 3 else int(np.prod(x.shape[:-3]))
        seeds = torch.randint(0, SEED_BOUND - 1, (n,), generator=self.generator, dtype=torch.int64).tolist()
        degs = [sample_blur(int(s), self._degrade) for s in seeds]
        return {"seeds": seeds, "kernels": [d.kernel for d in degs], "records": [d.record for d in degs]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, PIL.Image.Image):
            arr = np.array(inpt.convert("RGB"))  # a writable copy
            x = hwc_to_chw(torch.from_numpy(np.ascontiguousarray(arr)))
            out = apply_blur_tensor(x, params["kernels"], params["records"])
            return PIL.Image.fromarray(to_image(out))
        x = inpt.as_subclass(torch.Tensor)
        if x.ndim < 3:
            raise ValueError(f"image: expected shape (..., 3, H, W), got {tuple(x.shape)}")
        flat = x.reshape(-1, *x.shape[-3:]) if x.ndim > 3 else x
        out = apply_blur_tensor(flat, params["kernels"], params["records"]).reshape(x.shape)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out
