"""Detection scoring for the detection-uplift benchmark: pure functions plus a thin YOLO wrapper.

Boxes are ``(N, 4)`` float arrays ``x1, y1, x2, y2`` in pixels (``x2 >= x1``, ``y2 >= y1``), scores
``(N,)`` floats and classes ``(N,)`` integers. Everything here except :class:`YoloDetector` is a pure
NumPy function of its arguments; randomness (the bootstrap) takes an explicit seed.

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

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

COCO_IOU_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


# ----------------------------------------------------------------------------------------------- boxes
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


# -------------------------------------------------------------------------------------------- matching
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
    return _greedy(iou, np.argsort(-pred.scores, kind="stable"), iou_threshold)


def _greedy(iou: np.ndarray, order: np.ndarray, iou_threshold: float) -> Match:
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


# ------------------------------------------------------------------------------------------------- AP
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
    (:func:`match_detections`), pooled over images by descending score and scored with
    :func:`interpolated_ap`. ``map50`` is the mean AP at IoU 0.5 (NaN when 0.5 is not among the
    thresholds), ``map50_95`` the mean over all thresholds; both NaN when no reference box exists.
    """
    if len(preds) != len(gts):
        raise ValueError(f"preds and gts: {len(preds)} vs {len(gts)} images")
    thresholds = tuple(float(t) for t in iou_thresholds)
    if not thresholds:
        raise ValueError("iou_thresholds: empty")
    classes = sorted({int(c) for g in gts for c in g.classes})
    per_class: dict[int, list[float]] = {}
    for c in classes:
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
                hits[start : start + len(iou)] = _greedy(iou, local_order, t).pred_to_gt >= 0
            hits = hits[order]
            ctp = np.cumsum(hits)
            cfp = np.cumsum(~hits)
            rec = ctp / n_pos
            prec = ctp / np.maximum(ctp + cfp, 1)
            aps.append(interpolated_ap(rec, prec))
        per_class[c] = aps
    if not per_class:
        return MapResult(float("nan"), float("nan"), {}, thresholds)
    table = np.array([per_class[c] for c in classes])
    k50 = [k for k, t in enumerate(thresholds) if abs(t - 0.5) < 1e-9]
    map50 = float(table[:, k50[0]].mean()) if k50 else float("nan")
    return MapResult(map50, float(table.mean()), per_class, thresholds)


# ------------------------------------------------------------------------------------------ bootstrap
def bootstrap_indices(n_items: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n_items)`` indices resampled with replacement from a seeded generator."""
    if n_items < 1:
        raise ValueError(f"n_items: need at least one item to resample, got {n_items}")
    if n_boot < 1:
        raise ValueError(f"n_boot: must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_items, size=(n_boot, n_items))


def bootstrap_prf_ci(
    counts: Any, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap CIs over images of micro-averaged precision, recall and F1.

    Args:
        counts: ``(n_images, 3)`` array of per-image ``tp, fp, fn``.
        n_boot: number of resamples.
        seed: seed of the resampling generator.
        level: coverage of the interval.

    Returns:
        ``{"precision": (lo, hi), "recall": (lo, hi), "f1": (lo, hi)}``.
    """
    c = _as_counts(counts)
    idx = bootstrap_indices(len(c), n_boot, seed)
    sums = c[idx].sum(axis=1)  # (n_boot, 3)
    p, r, f = prf(sums[:, 0], sums[:, 1], sums[:, 2])
    return {name: _percentiles(v, level) for name, v in (("precision", p), ("recall", r), ("f1", f))}


def bootstrap_f1_diff_ci(
    counts_a: Any, counts_b: Any, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Paired percentile bootstrap CI of F1(a) − F1(b), the same images resampled for both."""
    a, b = _as_counts(counts_a), _as_counts(counts_b)
    if a.shape != b.shape:
        raise ValueError(f"paired counts must cover the same images: {a.shape} vs {b.shape}")
    idx = bootstrap_indices(len(a), n_boot, seed)
    sa, sb = a[idx].sum(axis=1), b[idx].sum(axis=1)
    fa = prf(sa[:, 0], sa[:, 1], sa[:, 2])[2]
    fb = prf(sb[:, 0], sb[:, 1], sb[:, 2])[2]
    return _percentiles(fa - fb, level)


def _as_counts(counts: Any) -> np.ndarray:
    c = np.asarray(counts, dtype=np.int64)
    if c.ndim != 2 or c.shape[1] != 3:
        raise ValueError(f"counts: expected an (n_images, 3) array of tp, fp, fn, got shape {c.shape}")
    return c


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: must be in (0, 1), got {level}")
    lo, hi = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


# ------------------------------------------------------------------------------------------- labels
def read_yolo_labels(path: str | os.PathLike[str], width: int, height: int) -> Detections:
    """YOLO txt labels (``class cx cy w h`` normalised, one box a line) as pixel xyxy boxes.

    A missing file means an image without objects is *not* assumed: it raises FileNotFoundError.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such label file")
    rows = []
    for n, line in enumerate(p.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 5:
            raise ValueError(f"{p}:{n}: expected 'class cx cy w h', got {line!r}")
        try:
            cls = int(float(parts[0]))
            cx, cy, w, h = (float(v) for v in parts[1:5])
        except ValueError as exc:
            raise ValueError(f"{p}:{n}: not numbers: {line!r}") from exc
        rows.append((cls, cx, cy, w, h))
    if not rows:
        return Detections.empty()
    a = np.array(rows, dtype=np.float64)
    boxes = np.stack(
        [
            (a[:, 1] - a[:, 3] / 2) * width,
            (a[:, 2] - a[:, 4] / 2) * height,
            (a[:, 1] + a[:, 3] / 2) * width,
            (a[:, 2] + a[:, 4] / 2) * height,
        ],
        axis=1,
    )
    boxes = np.clip(boxes, 0, [width, height, width, height])
    return Detections.ground_truth(boxes, a[:, 0].astype(np.int64))


# ------------------------------------------------------------------------------------------ detector
WEIGHTS_ENV = "BLURKIT_YOLO_WEIGHTS"
DEFAULT_WEIGHTS = "yolov8n.pt"


def _internet_reachable(host: str = "github.com", timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_weights(weights: str | None) -> tuple[str, bool]:
    """The detector weights to load and whether they are a local file.

    Order: ``weights`` (the ``--weights`` flag), then the environment variable
    ``BLURKIT_YOLO_WEIGHTS``, then ``yolov8n.pt``. A bare ``*.pt`` name that is not a local file is
    left for Ultralytics to download, which needs the internet.

    Raises:
        FileNotFoundError: a path that does not exist, or a bare name while offline.
    """
    spec = weights or os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS
    p = Path(spec).expanduser()
    if p.is_file():
        return str(p), True
    downloadable = p.name == spec and p.suffix == ".pt"
    if not downloadable:
        raise FileNotFoundError(
            f"detector weights {spec}: no such file (pass --weights PATH or set {WEIGHTS_ENV})"
        )
    if os.environ.get("YOLO_OFFLINE") or not _internet_reachable():
        raise FileNotFoundError(
            f"detector weights {spec!r} are not a local file and the internet is unreachable to download "
            f"them: pass --weights PATH to a local .pt/.onnx file or set {WEIGHTS_ENV}"
        )
    return spec, False


def prepare_ultralytics(config_dir: str | os.PathLike[str] | None = None, offline: bool = True) -> None:
    """Environment for Ultralytics, set before it is imported: settings in ``config_dir`` (a temporary
    folder by default) and, when ``offline``, no network checks (``YOLO_OFFLINE=1``). Ultralytics'
    automatic ``pip install`` of missing optional packages (it tries one when Pillow fails to read
    a file) is always turned off (``YOLO_AUTOINSTALL=False``): a benchmark must not change the
    environment it measures.

    Values already set by the user are kept.
    """
    if config_dir is None:
        config_dir = Path(tempfile.gettempdir()) / "blurkit-ultralytics"
    Path(config_dir).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir))
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    if offline:
        os.environ.setdefault("YOLO_OFFLINE", "1")


def to_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """Float RGB (H, W, 3) in [0, 1] → contiguous BGR uint8 (what Ultralytics expects of arrays)."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"image: expected (H, W, 3) RGB, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr[:, :, ::-1])


class YoloDetector:
    """An Ultralytics YOLO detector returning :class:`Detections` (boxes in input-pixel xyxy).

    Args:
        weights: ``.pt`` or ``.onnx`` file, or a bare name Ultralytics can download (see
            :func:`resolve_weights`); ``None`` uses ``BLURKIT_YOLO_WEIGHTS`` or ``yolov8n.pt``.
        imgsz: inference size (fixed-size ONNX exports ignore other sizes).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:0"``, ...
        nms_iou: IoU of the detector's own non-maximum suppression.
        batch: images per ``predict`` call.
        config_dir: where Ultralytics keeps its settings file.
    """

    def __init__(
        self,
        weights: str | None = None,
        imgsz: int = 640,
        device: str = "cpu",
        nms_iou: float = 0.7,
        batch: int = 8,
        config_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if imgsz < 32:
            raise ValueError(f"imgsz: must be >= 32, got {imgsz}")
        if batch < 1:
            raise ValueError(f"batch: must be >= 1, got {batch}")
        resolved, local = resolve_weights(weights)
        prepare_ultralytics(config_dir, offline=local)
        from ultralytics import YOLO

        self.weights = resolved
        self.model = YOLO(resolved, task="detect")
        self.imgsz = int(imgsz)
        self.device = _ultralytics_device(device)
        self.nms_iou = float(nms_iou)
        self.batch = int(batch)

    @property
    def names(self) -> dict[int, str]:
        return {int(k): str(v) for k, v in dict(self.model.names).items()}

    def __call__(self, images: Sequence[np.ndarray], conf: float = 0.25) -> list[Detections]:
        """Detect objects in float RGB [0, 1] (or uint8 RGB) images, keeping scores >= ``conf``."""
        if not 0.0 <= conf <= 1.0:
            raise ValueError(f"conf: must be in [0, 1], got {conf}")
        out: list[Detections] = []
        for start in range(0, len(images), self.batch):
            chunk = [to_bgr_uint8(im) for im in images[start : start + self.batch]]
            results = self.model.predict(
                chunk, imgsz=self.imgsz, conf=conf, iou=self.nms_iou, device=self.device, verbose=False
            )
            for r in results:
                b: Any = getattr(r, "boxes", None)
                if b is None:
                    out.append(Detections.empty())
                    continue
                out.append(Detections(_numpy(b.xyxy), _numpy(b.conf), _numpy(b.cls).astype(np.int64)))
        return out


def _numpy(t: Any) -> np.ndarray:
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.asarray(t, dtype=np.float64)


def _ultralytics_device(device: str) -> str:
    d = str(device).strip().lower()
    if d.startswith("cuda"):
        return d.split(":", 1)[1] if ":" in d else "0"
    if d in ("cpu", "mps") or d.replace(",", "").isdigit():
        return d
    raise ValueError(f"device: expected cpu, cuda, cuda:N or mps, got {device!r}")
