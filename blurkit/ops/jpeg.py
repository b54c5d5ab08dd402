"""Step 7 of the chain: a JPEG round trip at a recorded quality (OpenCV's encoder and decoder)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def jpeg_round_trip8(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode an (H, W, 3) uint8 RGB image as JPEG at ``quality`` and decode it again.

    >>> img = np.full((16, 16, 3), 128, np.uint8)
    >>> jpeg_round_trip8(img, 90).shape
    (16, 16, 3)
    """
    import cv2

    from blurkit.io.images import swap_red_blue

    ok, buf = cv2.imencode(".jpg", swap_red_blue(image), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"jpeg_quality: JPEG encoding failed at quality {quality}")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError(f"jpeg_quality: JPEG decoding failed at quality {quality}")
    return swap_red_blue(decoded)


def jpeg_round_trip(x: torch.Tensor, qualities: Sequence[int | None]) -> torch.Tensor:
    """The round trip on a (B, 3, H, W) batch in [0, 1], one quality per image (``None``: unchanged)."""
    import torch

    from blurkit.io import to_uint
    from blurkit.tensors import chw_to_hwc, to_tensor

    outs = []
    for img, q in zip(x, qualities, strict=True):
        if q is None:
            outs.append(img)
            continue
        dec = jpeg_round_trip8(to_uint(chw_to_hwc(img).cpu().numpy()), int(q))
        outs.append(to_tensor(dec.astype(np.float32) / 255.0, img.device))
    return torch.stack(outs)
