"""Detection scoring for the detection-uplift benchmark: pure metrics plus a thin YOLO adapter.

Boxes are ``(N, 4)`` float arrays ``x1, y1, x2, y2`` in pixels (``x2 >= x1``, ``y2 >= y1``), scores
``(N,)`` floats and classes ``(N,)`` integers. Everything except :mod:`~benchmarks.detection.yolo`
is a pure NumPy function of its arguments and never imports Ultralytics; randomness (the bootstrap)
takes an explicit seed.

* :mod:`~benchmarks.detection.boxes`: :class:`Detections` and pairwise IoU.
* :mod:`~benchmarks.detection.matching`: greedy same-class matching, counts, precision/recall/F1.
* :mod:`~benchmarks.detection.ap`: COCO 101-point AP, mAP50 and mAP50–95.
* :mod:`~benchmarks.detection.bootstrap`: percentile bootstrap intervals over images.
* :mod:`~benchmarks.detection.labels`: YOLO txt label files.
* :mod:`~benchmarks.detection.yolo`: weights resolution, Ultralytics' environment, :class:`YoloDetector`.

Conventions (spelled out because papers differ):

* IoU is area(intersection) / area(union) with continuous coordinates (no ``+1``); boxes that only
  touch, and zero-area boxes, have IoU 0.
* Matching is greedy by descending score (stable for ties): each prediction takes the still
  unmatched reference box of the same class with the highest IoU >= the threshold; every reference
  box is matched at most once, so duplicates are false positives.
* Precision/recall/F1 from summed counts (micro average). With nothing predicted and nothing to find
  all three are 1; with nothing predicted precision is 1 only when there was nothing to find.
* AP is COCO's 101-point interpolated AP per class (classes present in the reference only), mAP the
  mean over those classes; mAP50–95 averages over IoU thresholds 0.50:0.05:0.95.
"""

from benchmarks.detection.ap import (
    COCO_IOU_THRESHOLDS,
    RECALL_POINTS,
    MapResult,
    interpolated_ap,
    mean_average_precision,
)
from benchmarks.detection.bootstrap import bootstrap_f1_diff_ci, bootstrap_indices, bootstrap_prf_ci
from benchmarks.detection.boxes import Detections, box_iou
from benchmarks.detection.labels import read_yolo_labels
from benchmarks.detection.matching import Counts, Match, count_matches, greedy_match, match_detections, prf
from benchmarks.detection.yolo import (
    DEFAULT_WEIGHTS,
    WEIGHTS_ENV,
    YoloDetector,
    prepare_ultralytics,
    resolve_weights,
    to_bgr_uint8,
)

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "DEFAULT_WEIGHTS",
    "RECALL_POINTS",
    "WEIGHTS_ENV",
    "Counts",
    "Detections",
    "MapResult",
    "Match",
    "YoloDetector",
    "bootstrap_f1_diff_ci",
    "bootstrap_indices",
    "bootstrap_prf_ci",
    "box_iou",
    "count_matches",
    "greedy_match",
    "interpolated_ap",
    "match_detections",
    "mean_average_precision",
    "prepare_ultralytics",
    "prf",
    "read_yolo_labels",
    "resolve_weights",
    "to_bgr_uint8",
]
