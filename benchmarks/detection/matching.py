"""Greedy same-class matching of detections to reference boxes, and precision/recall/F1 from counts.

Matching is greedy by descending score (stable for ties): each prediction takes the still
unmatched reference box of the same class with the highest IoU >= the threshold; every reference
box is matched at most once, so duplicates are false positives. Precision/recall/F1 come from summed
counts (micro average). With nothing predicted and nothing to find all three are 1; with nothing
predicted precision is 1 only when there was nothing to find.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.detection.boxes import Detections, box_iou

__all__ = ["Counts", "Match", "count_matches", "greedy_match", "match_detections", "prf"]


@dataclass(frozen=True)
class Match:
    """Result of :func:`match_detections` (indices refer to the input order)."""

    pred_to_gt: np.ndarray  # (N,) index of the matched reference box, -1 when unmatched
    pred_iou: np.ndarray  # (N,) IoU with the matched box, 0 when unmatched

    @property
    def tp(self) -> int:
        return int((self.pred_to_gt >= 0).sum())


def match_detections(pred: Detections, gt: Detections, iou_threshold: float = 0.5) -> Match:
    """Greedy same-class matching of predictions to reference boxes by descending score.

    >>> gt = Detections.ground_truth([[0, 0, 10, 10]], [0])
    >>> pred = Detections([[0, 0, 10, 10], [1, 0, 10, 10]], [0.5, 0.9], [0, 0])
    >>> match_detections(pred, gt).pred_to_gt.tolist()  # the higher score wins, the other is a duplicate
    [-1, 0]
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold: must be in (0, 1], got {iou_threshold}")
    n = len(pred)
    pred_to_gt = np.full(n, -1, dtype=np.int64)
    pred_iou = np.zeros(n, dtype=np.float64)
    if n == 0 or len(gt) == 0:
        return Match(pred_to_gt, pred_iou)
    iou = box_iou(pred.boxes, gt.boxes)
    iou[pred.classes[:, None] != gt.classes[None, :]] = -1.0
    return greedy_match(iou, np.argsort(-pred.scores, kind="stable"), iou_threshold)


def greedy_match(iou: np.ndarray, order: np.ndarray, iou_threshold: float) -> Match:
    """Greedy matching on an (N, M) IoU matrix (-1 where classes differ), predictions in ``order``."""
    n, m = iou.shape
    pred_to_gt = np.full(n, -1, dtype=np.int64)
    pred_iou = np.zeros(n, dtype=np.float64)
    taken = np.zeros(m, dtype=bool)
    for i in order:
        row = np.where(taken, -1.0, iou[i])
        j = int(np.argmax(row))
        if row[j] >= iou_threshold:
            taken[j] = True
            pred_to_gt[i] = j
            pred_iou[i] = row[j]
            if taken.all():
                break
    return Match(pred_to_gt, pred_iou)


@dataclass(frozen=True)
class Counts:
    """True positives, false positives and false negatives (summable over images)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return prf(self.tp, self.fp, self.fn)[0]

    @property
    def recall(self) -> float:
        return prf(self.tp, self.fp, self.fn)[1]

    @property
    def f1(self) -> float:
        return prf(self.tp, self.fp, self.fn)[2]


def count_matches(pred: Detections, gt: Detections, iou_threshold: float = 0.5) -> Counts:
    """TP/FP/FN of one image after :func:`match_detections`."""
    tp = match_detections(pred, gt, iou_threshold).tp
    return Counts(tp=tp, fp=len(pred) - tp, fn=len(gt) - tp)


def prf(tp: Any, fp: Any, fn: Any) -> tuple[Any, Any, Any]:
    """Precision, recall and F1 from counts (scalars or arrays; see the module docstring for 0/0).

    >>> prf(3, 1, 2)
    (0.75, 0.6, 0.6666666666666666)
    >>> prf(0, 0, 0)
    (1.0, 1.0, 1.0)
    """
    tp_a, fp_a, fn_a = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    if (tp_a < 0).any() or (fp_a < 0).any() or (fn_a < 0).any():
        raise ValueError(f"counts must be >= 0, got tp={tp}, fp={fp}, fn={fn}")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(tp_a + fp_a > 0, tp_a / (tp_a + fp_a), np.where(fn_a > 0, 0.0, 1.0))
        r = np.where(tp_a + fn_a > 0, tp_a / (tp_a + fn_a), np.where(fp_a > 0, 0.0, 1.0))
        d = 2 * tp_a + fp_a + fn_a
        f = np.where(d > 0, 2 * tp_a / d, 1.0)
    if p.ndim == 0:
        return float(p), float(r), float(f)
    return p, r, f
