"""COCO-style average precision: 101-point interpolated AP per class, mAP50 and mAP50–95.

AP is computed per class present in the reference only; mAP is the mean over those classes, and
mAP50–95 averages over the IoU thresholds 0.50:0.05:0.95.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.detection.boxes import Detections, box_iou
from benchmarks.detection.matching import greedy_match

__all__ = ["COCO_IOU_THRESHOLDS", "RECALL_POINTS", "MapResult", "interpolated_ap", "mean_average_precision"]

COCO_IOU_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def interpolated_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """COCO 101-point interpolated AP of a PR curve (recall non-decreasing, in detection order).

    Precision is made monotone (running max from the right); at each recall point r in 0:0.01:1 it
    takes the precision of the first curve point with recall >= r, or 0 when recall never reaches r.

    >>> interpolated_ap(np.array([0.5, 1.0]), np.array([1.0, 0.5]))  # doctest: +ELLIPSIS
    0.752475...
    """
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    if recall.shape != precision.shape or recall.ndim != 1:
        raise ValueError(f"recall {recall.shape} and precision {precision.shape} must be 1-D of equal length")
    if len(recall) == 0:
        return 0.0
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    vals = np.where(idx < len(recall), envelope[np.minimum(idx, len(recall) - 1)], 0.0)
    return float(vals.mean())


@dataclass(frozen=True)
class MapResult:
    """mAP over classes present in the reference; ``per_class[c][k]`` is class c's AP at threshold k."""

    map50: float
    map50_95: float
    per_class: dict[int, list[float]]
    iou_thresholds: tuple[float, ...]


def mean_average_precision(
    preds: Sequence[Detections],
    gts: Sequence[Detections],
    iou_thresholds: Sequence[float] = COCO_IOU_THRESHOLDS,
) -> MapResult:
    """COCO-style mAP of per-image predictions against per-image reference boxes.

    For each class present in ``gts`` and each IoU threshold, predictions are matched per image
    (as :func:`~benchmarks.detection.matching.match_detections` does), pooled over images by
    descending score and scored with :func:`interpolated_ap`. ``map50`` is the mean AP at IoU 0.5 (NaN when 0.5 is not among the
    thresholds), ``map50_95`` the mean over all thresholds; both NaN when no reference box exists.
    """
    if len(preds) != len(gts):
        raise ValueError(f"preds and gts: {len(preds)} vs {len(gts)} images")
    thresholds = tuple(float(t) for t in iou_thresholds)
    if not thresholds:
        raise ValueError("iou_thresholds: empty")
    classes = sorted({int(c) for g in gts for c in g.classes})
    per_class = {c: _class_aps(preds, gts, c, thresholds) for c in classes}
    if not per_class:
        return MapResult(float("nan"), float("nan"), {}, thresholds)
    table = np.array([per_class[c] for c in classes])
    k50 = [k for k, t in enumerate(thresholds) if abs(t - 0.5) < 1e-9]
    map50 = float(table[:, k50[0]].mean()) if k50 else float("nan")
    return MapResult(map50, float(table.mean()), per_class, thresholds)


def _class_aps(
    preds: Sequence[Detections], gts: Sequence[Detections], c: int, thresholds: tuple[float, ...]
) -> list[float]:
    """AP of class ``c`` at each of ``thresholds``: per-image matching, pooled by descending score."""
    n_pos = sum(int((g.classes == c).sum()) for g in gts)
    scores_parts: list[np.ndarray] = []
    cells: list[tuple[int, np.ndarray, np.ndarray]] = []  # (offset, IoU matrix, score order)
    offset = 0
    for p, g in zip(preds, gts, strict=True):
        pk = p.classes == c
        n_pred = int(pk.sum())
        if n_pred == 0:
            continue
        scores = p.scores[pk]
        gk = g.classes == c
        if gk.any():
            cells.append((offset, box_iou(p.boxes[pk], g.boxes[gk]), np.argsort(-scores, kind="stable")))
        scores_parts.append(scores)
        offset += n_pred
    all_scores = np.concatenate(scores_parts) if scores_parts else np.zeros(0)
    order = np.argsort(-all_scores, kind="stable")
    aps: list[float] = []
    for t in thresholds:
        hits = np.zeros(len(all_scores), dtype=bool)
        for start, iou, local_order in cells:
            hits[start : start + len(iou)] = greedy_match(iou, local_order, t).pred_to_gt >= 0
        hits = hits[order]
        ctp = np.cumsum(hits)
        cfp = np.cumsum(~hits)
        rec = ctp / n_pos
        prec = ctp / np.maximum(ctp + cfp, 1)
        aps.append(interpolated_ap(rec, prec))
    return aps
