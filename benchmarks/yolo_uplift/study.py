"""One detection-uplift study: detect in every condition of every item, count matches, summarise.

Rows are per image × length × condition × reference (pseudo ground truth, and labels when given);
the summary micro-averages them with bootstrap intervals and, against labels, adds mAP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.detection import (
    Counts,
    Detections,
    YoloDetector,
    bootstrap_f1_diff_ci,
    bootstrap_prf_ci,
    count_matches,
    mean_average_precision,
    prf,
    to_bgr_uint8,
)
from benchmarks.yolo_uplift.conditions import (
    BLURRED,
    LABELS,
    PSEUDO,
    SHARP,
    Condition,
    default_deblurrers,
    item_conditions,
    load_deblurrers,
)
from benchmarks.yolo_uplift.config import UpliftConfig
from benchmarks.yolo_uplift.items import downscale, item_labels, study_items, unlabelled_items
from benchmarks.yolo_uplift.report import example_panel

__all__ = ["StudyResult", "detect_unique", "run_study", "summarize"]


@dataclass
class StudyResult:
    """Everything a study measured."""

    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    examples: list[tuple[str, np.ndarray]]
    names: dict[int, str]
    labelled: bool
    weights: str = ""
    unlabelled: list[str] = field(default_factory=list)


def run_study(config: UpliftConfig, detector: Any = None, progress: bool = True) -> StudyResult:
    """Run the detection-uplift study of ``config`` and return per-image rows and the summary.

    Args:
        config: the study settings.
        detector: a callable ``detector(images, conf) -> list[Detections]`` with a ``names`` mapping;
            a :class:`~benchmarks.detection.YoloDetector` from ``config`` when omitted.
        progress: show a progress bar.
    """
    from tqdm import tqdm

    deblurrers = load_deblurrers(config.deblurrers or default_deblurrers(), config.device)
    if detector is None:  # before the images: Ultralytics must be configured before anything imports it
        detector = YoloDetector(
            config.weights,
            imgsz=config.imgsz,
            device=config.device,
            nms_iou=config.nms_iou,
            config_dir=config.out / ".ultralytics",
        )
    items, max_side = study_items(config)
    unlabelled = unlabelled_items(config, items)
    labelled = config.labels is not None
    names: dict[int, str] = dict(getattr(detector, "names", {}))
    min_conf = min(config.conf, config.gt_conf, config.map_conf if labelled else 1.0)
    tally = _Tally(config)
    examples: list[tuple[str, np.ndarray]] = []
    for item in tqdm(items, desc="yolo_uplift", unit="img", disable=not progress):
        sharp = downscale(item.load_sharp(), max_side)
        h, w = sharp.shape[:2]
        labels = item_labels(item, w, h) if labelled else None
        conditions = item_conditions(item, sharp, deblurrers, config)
        dets = detect_unique(detector, [c[2] for c in conditions], min_conf)
        pseudo = dets[0].above(config.gt_conf)
        tally.add(item.key, conditions, dets, pseudo, labels)
        if len(examples) < config.examples:
            panel = example_panel(conditions, dets, pseudo, config, max(config.lengths), names)
            examples.append((item.key, panel))
    return StudyResult(
        rows=tally.rows,
        summary=tally.summary(),
        examples=examples,
        names=names,
        labelled=labelled,
        weights=str(getattr(detector, "weights", config.weights)),
        unlabelled=unlabelled,
    )


@dataclass
class _Tally:
    """Per-image rows, and the detections ranked for mAP per (condition, length) against labels."""

    config: UpliftConfig
    rows: list[dict[str, Any]] = field(default_factory=list)
    ranked: dict[tuple[str, int], list[tuple[Detections, Detections]]] = field(default_factory=dict)

    def add(
        self,
        key: str,
        conditions: Sequence[Condition],
        dets: Sequence[Detections],
        pseudo: Detections,
        labels: Detections | None,
    ) -> None:
        """Count one item's detections in each condition against the pseudo ground truth and labels."""
        c = self.config
        for (cond, length, _img), d in zip(conditions, dets, strict=True):
            kept = d.above(c.conf)
            self.rows.append(_row(key, length, cond, PSEUDO, kept, pseudo, c.iou))
            if labels is not None:
                self.rows.append(_row(key, length, cond, LABELS, kept, labels, c.iou))
                self.ranked.setdefault((cond, length), []).append((d.above(c.map_conf), labels))

    def summary(self) -> list[dict[str, Any]]:
        """:func:`summarize` of the rows, with mAP50 and mAP50–95 on the rows against labels."""
        summary = summarize(self.rows, self.config.bootstrap, self.config.seed)
        if self.config.labels is not None:
            for s in summary:
                if s["reference"] == LABELS:
                    pairs = self.ranked.get((s["condition"], s["length"]), [])
                    m = mean_average_precision([p for p, _ in pairs], [g for _, g in pairs])
                    s["map50"], s["map50_95"] = m.map50, m.map50_95
        return summary


def detect_unique(detector: Any, images: Sequence[np.ndarray], conf: float) -> list[Detections]:
    """Run ``detector`` once per distinct image (after 8-bit quantisation, what the detector sees).

    An ``identity`` deblurrer returns the blurred image unchanged; its detections are reused.
    """
    import hashlib

    digests = []
    for im in images:
        q = to_bgr_uint8(im)
        digests.append(hashlib.sha256(q.tobytes() + str(q.shape).encode()).hexdigest())
    first: dict[str, int] = {}
    for i, d in enumerate(digests):
        first.setdefault(d, i)
    unique = sorted(set(first.values()))
    found = detector([images[i] for i in unique], conf=conf)
    if len(found) != len(unique):
        raise ValueError(f"detector returned {len(found)} results for {len(unique)} images")
    by_index = dict(zip(unique, found, strict=True))
    return [by_index[first[d]] for d in digests]


def _row(
    key: str, length: int, cond: str, ref: str, pred: Detections, gt: Detections, iou: float
) -> dict[str, Any]:
    c = count_matches(pred, gt, iou)
    p, r, f = prf(c.tp, c.fp, c.fn)
    return {
        "image": key,
        "length": length,
        "condition": cond,
        "reference": ref,
        "n_ref": len(gt),
        "n_pred": len(pred),
        "tp": c.tp,
        "fp": c.fp,
        "fn": c.fn,
        "precision": p,
        "recall": r,
        "f1": f,
    }


def summarize(rows: Sequence[dict[str, Any]], n_boot: int = 1000, seed: int = 0) -> list[dict[str, Any]]:
    """Micro-averaged precision/recall/F1 per (reference, condition, length), with bootstrap CIs and,
    for deblurred conditions, the F1 uplift over the blurred images of the same length (paired CI).

    The sharp condition (length 0) is summarised once per reference.
    """
    groups: dict[tuple[str, str, int], dict[str, Counts]] = {}
    for r in rows:
        groups.setdefault((r["reference"], r["condition"], int(r["length"])), {})[r["image"]] = Counts(
            int(r["tp"]), int(r["fp"]), int(r["fn"])
        )
    out = []
    for (ref, cond, length), per_image in sorted(groups.items(), key=lambda kv: _order(kv[0])):
        keys = sorted(per_image)
        arr = np.array([[per_image[k].tp, per_image[k].fp, per_image[k].fn] for k in keys])
        tot = arr.sum(axis=0)
        p, r, f = prf(*tot)
        ci = bootstrap_prf_ci(arr, n_boot=n_boot, seed=seed)
        s: dict[str, Any] = {
            "reference": ref,
            "condition": cond,
            "length": length,
            "images": len(keys),
            "tp": int(tot[0]),
            "fp": int(tot[1]),
            "fn": int(tot[2]),
            "precision": p,
            "recall": r,
            "f1": f,
            "precision_ci": ci["precision"],
            "recall_ci": ci["recall"],
            "f1_ci": ci["f1"],
            "uplift_f1": None,
            "uplift_f1_ci": None,
        }
        base = groups.get((ref, BLURRED, length))
        if cond not in (SHARP, BLURRED) and base is not None and set(base) == set(per_image):
            b = np.array([[base[k].tp, base[k].fp, base[k].fn] for k in keys])
            s["uplift_f1"] = f - prf(*b.sum(axis=0))[2]
            s["uplift_f1_ci"] = bootstrap_f1_diff_ci(arr, b, n_boot=n_boot, seed=seed)
        out.append(s)
    return out


def _order(key: tuple[str, str, int]) -> tuple[int, int, int, str]:
    ref, cond, length = key
    rank = 0 if cond == SHARP else 1 if cond == BLURRED else 2
    return (0 if ref == PSEUDO else 1, length, rank, cond)


