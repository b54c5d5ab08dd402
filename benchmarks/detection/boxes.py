"""Boxes and per-image detections: validation and pairwise IoU.

Boxes are ``(N, 4)`` float arrays ``x1, y1, x2, y2`` in pixels (``x2 >= x1``, ``y2 >= y1``), scores
``(N,)`` floats and classes ``(N,)`` integers. IoU is area(intersection) / area(union) with
continuous coordinates (no ``+1``); boxes that only touch, and zero-area boxes, have IoU 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Detections", "box_iou"]


def _as_boxes(boxes: Any, name: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name}: expected an (N, 4) array of x1, y1, x2, y2, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: boxes contain NaN or infinite coordinates")
    if (arr[:, 2] < arr[:, 0]).any() or (arr[:, 3] < arr[:, 1]).any():
        bad = int(np.flatnonzero((arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1]))[0])
        raise ValueError(f"{name}: box {bad} has x2 < x1 or y2 < y1: {arr[bad].tolist()}")
    return arr


def box_iou(a: Any, b: Any) -> np.ndarray:
    """Pairwise IoU of two box sets, shape ``(len(a), len(b))``, float64.

    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [2, 0, 4, 2]]).round(4).tolist()
    [[0.3333, 0.0]]
    """
    a = _as_boxes(a, "boxes a")
    b = _as_boxes(b, "boxes b")
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


@dataclass(frozen=True)
class Detections:
    """Boxes (N, 4) xyxy pixels, scores (N,) and integer classes (N,) of one image."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __post_init__(self) -> None:
        boxes = _as_boxes(self.boxes, "boxes")
        scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        classes = np.asarray(self.classes).reshape(-1).astype(np.int64)
        if not len(boxes) == len(scores) == len(classes):
            raise ValueError(
                f"detections: {len(boxes)} boxes, {len(scores)} scores and {len(classes)} classes differ in length"
            )
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "classes", classes)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))

    @classmethod
    def ground_truth(cls, boxes: Any, classes: Any) -> Detections:
        """Reference boxes (scores set to 1)."""
        b = _as_boxes(boxes, "ground-truth boxes")
        return cls(b, np.ones(len(b)), np.asarray(classes, dtype=np.int64).reshape(-1))

    def __len__(self) -> int:
        return len(self.scores)

    def above(self, min_score: float) -> Detections:
        """The detections with score >= ``min_score``."""
        keep = self.scores >= min_score
        return Detections(self.boxes[keep], self.scores[keep], self.classes[keep])
