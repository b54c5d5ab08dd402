"""Matching, precision/recall/F1, COCO-style AP and bootstrap CIs of ``benchmarks.detection``."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.detection import (
    COCO_IOU_THRESHOLDS,
    Counts,
    Detections,
    bootstrap_f1_diff_ci,
    bootstrap_prf_ci,
    box_iou,
    count_matches,
    interpolated_ap,
    match_detections,
    mean_average_precision,
    prf,
    read_yolo_labels,
    resolve_weights,
    to_bgr_uint8,
)


def dets(boxes, scores=None, classes=None) -> Detections:
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    n = len(boxes)
    return Detections(
        boxes,
        np.linspace(0.9, 0.5, n) if scores is None else scores,
        np.zeros(n, dtype=int) if classes is None else classes,
    )


# ------------------------------------------------------------------------------------------------ IoU
def test_iou_identical_and_disjoint():
    iou = box_iou([[0, 0, 10, 10]], [[0, 0, 10, 10], [20, 20, 30, 30]])
    assert iou.shape == (1, 2)
    assert iou[0, 0] == pytest.approx(1.0)
    assert iou[0, 1] == 0.0


def test_iou_touching_boxes_is_zero():
    assert box_iou([[0, 0, 10, 10]], [[10, 0, 20, 10]])[0, 0] == 0.0  # shared edge
    assert box_iou([[0, 0, 10, 10]], [[10, 10, 20, 20]])[0, 0] == 0.0  # shared corner


def test_iou_contained_box_is_area_ratio():
    assert box_iou([[0, 0, 4, 4]], [[1, 1, 3, 3]])[0, 0] == pytest.approx(4 / 16)


def test_iou_partial_overlap_value():
    # intersection 5x10=50, union 100+100-50=150
    assert box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10]])[0, 0] == pytest.approx(1 / 3)


def test_iou_zero_area_boxes_are_zero_not_nan():
    iou = box_iou([[5, 5, 5, 5], [0, 0, 10, 0]], [[5, 5, 5, 5], [0, 0, 10, 10]])
    assert np.isfinite(iou).all()
    assert (iou == 0).all()


def test_iou_is_symmetric():
    rng = np.random.default_rng(1)
    a = _random_boxes(rng, 7)
    b = _random_boxes(rng, 5)
    np.testing.assert_allclose(box_iou(a, b), box_iou(b, a).T)


def test_iou_empty_inputs_give_empty_matrix():
    assert box_iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)
    assert box_iou([[0, 0, 1, 1]], []).shape == (1, 0)


@pytest.mark.parametrize("bad", [[[0, 0, -1, 1]], [[0, 5, 1, 1]], [[0, 0, 1]], [[0, 0, np.nan, 1]]])
def test_iou_rejects_bad_boxes(bad):
    with pytest.raises(ValueError, match="box"):
        box_iou(bad, [[0, 0, 1, 1]])


def test_detections_length_mismatch_raises():
    with pytest.raises(ValueError, match="differ in length"):
        Detections(np.zeros((2, 4)), np.ones(3), np.zeros(2))


def test_detections_above_filters_by_score():
    d = dets([[0, 0, 1, 1], [0, 0, 2, 2], [0, 0, 3, 3]], scores=[0.1, 0.5, 0.9])
    assert d.above(0.5).scores.tolist() == [0.5, 0.9]
    assert len(d.above(0.95)) == 0


# ------------------------------------------------------------------------------------------- matching
def test_match_same_box_same_class():
    c = count_matches(dets([[0, 0, 10, 10]]), Detections.ground_truth([[0, 0, 10, 10]], [0]))
    assert c == Counts(tp=1, fp=0, fn=0)


def test_match_class_mismatch_is_fp_and_fn():
    c = count_matches(dets([[0, 0, 10, 10]], classes=[3]), Detections.ground_truth([[0, 0, 10, 10]], [0]))
    assert c == Counts(tp=0, fp=1, fn=1)


def test_duplicate_detections_are_false_positives():
    pred = dets([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]], scores=[0.7, 0.9, 0.8])
    gt = Detections.ground_truth([[0, 0, 10, 10]], [0])
    m = match_detections(pred, gt)
    assert m.pred_to_gt.tolist() == [-1, 0, -1]  # the highest score takes the box
    assert count_matches(pred, gt) == Counts(tp=1, fp=2, fn=0)


def test_greedy_order_is_by_score_not_by_iou():
    # The confident prediction overlaps box 0 less well than the weak one but is served first.
    gt = Detections.ground_truth([[0, 0, 10, 10]], [0])
    pred = dets([[0, 0, 10, 10], [0, 0, 10, 8]], scores=[0.3, 0.9])
    assert match_detections(pred, gt).pred_to_gt.tolist() == [-1, 0]


def test_prediction_takes_best_iou_among_free_boxes():
    gt = Detections.ground_truth([[0, 0, 10, 10], [2, 0, 12, 10]], [0, 0])
    pred = dets([[2, 0, 12, 10], [0, 0, 10, 10]], scores=[0.9, 0.8])
    assert match_detections(pred, gt).pred_to_gt.tolist() == [1, 0]


def test_iou_threshold_is_inclusive():
    gt = Detections.ground_truth([[0, 0, 10, 10]], [0])
    pred = dets([[0, 0, 10, 5]])  # IoU exactly 0.5
    assert count_matches(pred, gt, 0.5).tp == 1
    assert count_matches(pred, gt, 0.51).tp == 0


def test_empty_predictions():
    c = count_matches(Detections.empty(), Detections.ground_truth([[0, 0, 1, 1], [2, 2, 3, 3]], [0, 1]))
    assert c == Counts(0, 0, 2)
    assert (c.precision, c.recall, c.f1) == (0.0, 0.0, 0.0)


def test_empty_ground_truth():
    c = count_matches(dets([[0, 0, 1, 1]]), Detections.empty())
    assert c == Counts(0, 1, 0)
    assert (c.precision, c.recall, c.f1) == (0.0, 0.0, 0.0)


def test_both_empty_is_perfect():
    c = count_matches(Detections.empty(), Detections.empty())
    assert c == Counts(0, 0, 0)
    assert (c.precision, c.recall, c.f1) == (1.0, 1.0, 1.0)


def test_match_rejects_bad_threshold():
    with pytest.raises(ValueError, match="iou_threshold"):
        match_detections(Detections.empty(), Detections.empty(), 0.0)


def test_prf_values_and_arrays():
    p, r, f = prf(6, 2, 4)
    assert (p, r) == (0.75, 0.6)
    assert f == pytest.approx(2 * p * r / (p + r))
    _pa, _ra, fa = prf(np.array([6, 0]), np.array([2, 0]), np.array([4, 0]))
    np.testing.assert_allclose(fa, [f, 1.0])
    with pytest.raises(ValueError, match="counts"):
        prf(-1, 0, 0)


def test_counts_add_is_micro_average():
    total = Counts(1, 0, 1) + Counts(3, 2, 0)
    assert total == Counts(4, 2, 1)
    assert total.precision == pytest.approx(4 / 6)


# ------------------------------------------------------------------------------------------------- AP
def test_interpolated_ap_perfect_and_empty():
    assert interpolated_ap(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == pytest.approx(1.0)
    assert interpolated_ap(np.array([]), np.array([])) == 0.0


def test_interpolated_ap_uses_right_envelope():
    # Precision dips then recovers: the interpolated curve takes the later, higher value.
    rec = np.array([0.25, 0.25, 0.5, 0.75])
    prec = np.array([1.0, 0.5, 0.67, 0.75])
    expected = (26 * 1.0 + 50 * 0.75 + 0 * 25) / 101  # r in [0,.25] -> 1; (.25,.75] -> .75; > .75 -> 0
    assert interpolated_ap(rec, prec) == pytest.approx(expected)


def test_map_perfect_detector_is_one():
    rng = np.random.default_rng(0)
    gts = [Detections.ground_truth(_random_boxes(rng, 4), rng.integers(0, 3, 4)) for _ in range(5)]
    preds = [Detections(g.boxes, rng.random(len(g)), g.classes) for g in gts]
    m = mean_average_precision(preds, gts)
    assert m.map50 == pytest.approx(1.0)
    assert m.map50_95 == pytest.approx(1.0)


def test_map_no_reference_boxes_is_nan():
    m = mean_average_precision([dets([[0, 0, 1, 1]])], [Detections.empty()])
    assert np.isnan(m.map50) and np.isnan(m.map50_95)


def test_map_class_without_predictions_counts_zero():
    gts = [Detections.ground_truth([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1])]
    preds = [dets([[0, 0, 10, 10]], scores=[0.9], classes=[0])]
    m = mean_average_precision(preds, gts)
    assert m.per_class[1] == [0.0] * len(COCO_IOU_THRESHOLDS)
    assert m.map50 == pytest.approx(0.5)


def test_map_matches_reference_implementation():
    preds, gts = _noisy_dataset(np.random.default_rng(7), n_images=25)
    mine = mean_average_precision(preds, gts)
    for k, t in enumerate(COCO_IOU_THRESHOLDS):
        ref = _reference_map(preds, gts, t)
        got = np.mean([mine.per_class[c][k] for c in sorted(mine.per_class)])
        assert got == pytest.approx(ref, abs=1e-12), f"IoU {t}"
    assert 0.05 < mine.map50_95 < mine.map50 < 1.0  # the data set is neither trivial nor hopeless


def test_map_matches_pycocotools():
    pytest.importorskip("pycocotools", reason="pycocotools not installed (pip install pycocotools)")
    preds, gts = _noisy_dataset(np.random.default_rng(11), n_images=30)
    mine = mean_average_precision(preds, gts)
    ap, ap50 = _pycocotools_map(preds, gts)
    assert mine.map50_95 == pytest.approx(ap, abs=1e-9)
    assert mine.map50 == pytest.approx(ap50, abs=1e-9)


# ------------------------------------------------------------------------------------------ bootstrap
def _counts(rng: np.random.Generator, n: int) -> np.ndarray:
    tp = rng.integers(0, 8, n)
    return np.stack([tp, rng.integers(0, 4, n), rng.integers(0, 4, n)], axis=1)


def test_bootstrap_ci_contains_point_estimate_and_is_seeded():
    c = _counts(np.random.default_rng(3), 40)
    point = prf(*c.sum(axis=0))
    ci = bootstrap_prf_ci(c, n_boot=500, seed=5)
    for name, v in zip(("precision", "recall", "f1"), point, strict=True):
        lo, hi = ci[name]
        assert lo <= v <= hi
        assert hi - lo > 0
    assert bootstrap_prf_ci(c, n_boot=500, seed=5) == ci
    assert bootstrap_prf_ci(c, n_boot=500, seed=6) != ci


def test_bootstrap_ci_narrows_with_more_images():
    rng = np.random.default_rng(4)
    small = _counts(rng, 10)
    big = np.concatenate([small] * 20)
    w_small = np.diff(bootstrap_prf_ci(small, 400, 0)["f1"])[0]
    w_big = np.diff(bootstrap_prf_ci(big, 400, 0)["f1"])[0]
    assert w_big < w_small


def test_bootstrap_diff_is_paired():
    c = _counts(np.random.default_rng(8), 30)
    assert bootstrap_f1_diff_ci(c, c, 200, 0) == (0.0, 0.0)
    better = c.copy()
    better[:, 0] += 2  # two more true positives on every image
    better[:, 2] = np.maximum(better[:, 2] - 2, 0)
    lo, hi = bootstrap_f1_diff_ci(better, c, 300, 0)
    assert 0 < lo <= hi


def test_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="counts"):
        bootstrap_prf_ci(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="n_items"):
        bootstrap_prf_ci(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="same images"):
        bootstrap_f1_diff_ci(np.zeros((4, 3)), np.zeros((5, 3)))


# ---------------------------------------------------------------------------------- labels, weights
def test_read_yolo_labels(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("0 0.5 0.5 0.5 0.25\n\n17 0.1 0.2 0.2 0.2\n")
    d = read_yolo_labels(p, width=200, height=100)
    np.testing.assert_allclose(d.boxes, [[50, 37.5, 150, 62.5], [0, 10, 40, 30]])
    assert d.classes.tolist() == [0, 17]


def test_read_yolo_labels_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        read_yolo_labels(tmp_path / "nope.txt", 10, 10)
    bad = tmp_path / "bad.txt"
    bad.write_text("0 0.5 0.5\n")
    with pytest.raises(ValueError, match=r"bad\.txt:1"):
        read_yolo_labels(bad, 10, 10)


def test_to_bgr_uint8_swaps_channels():
    img = np.zeros((2, 2, 3), np.float32)
    img[..., 0] = 1.0  # red
    out = to_bgr_uint8(img)
    assert out.dtype == np.uint8 and out[0, 0].tolist() == [0, 0, 255]


def test_resolve_weights_order(tmp_path, monkeypatch):
    a, b = tmp_path / "a.onnx", tmp_path / "b.pt"
    a.write_bytes(b"x")
    b.write_bytes(b"x")
    monkeypatch.setenv("BLURKIT_YOLO_WEIGHTS", str(b))
    assert resolve_weights(str(a)) == (str(a), True)
    assert resolve_weights(None) == (str(b), True)


def test_resolve_weights_missing_offline_names_flag_and_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BLURKIT_YOLO_WEIGHTS", raising=False)
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"--weights.*BLURKIT_YOLO_WEIGHTS"):
        resolve_weights(None)
    with pytest.raises(FileNotFoundError, match=r"nowhere/x\.onnx"):
        resolve_weights(str(tmp_path / "nowhere" / "x.onnx"))


# -------------------------------------------------------------------------------------------- helpers
def _random_boxes(rng: np.random.Generator, n: int, size: float = 200.0) -> np.ndarray:
    xy = rng.uniform(0, size * 0.8, (n, 2))
    wh = rng.uniform(size * 0.05, size * 0.3, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def _noisy_dataset(rng: np.random.Generator, n_images: int) -> tuple[list[Detections], list[Detections]]:
    """Reference boxes of 3 classes and predictions: jittered copies, misses, wrong classes, clutter."""
    preds, gts = [], []
    for i in range(n_images):
        n = 0 if i == 0 else int(rng.integers(1, 7))
        g_boxes = _random_boxes(rng, n)
        g_cls = rng.integers(0, 3, n)
        gts.append(Detections.ground_truth(g_boxes, g_cls))
        keep = rng.random(n) > 0.2
        p_boxes = g_boxes[keep] + rng.normal(0, 3, (int(keep.sum()), 4))
        p_boxes = np.concatenate(
            [np.minimum(p_boxes[:, :2], p_boxes[:, 2:]), np.maximum(p_boxes[:, :2], p_boxes[:, 2:])], 1
        )
        p_cls = np.where(rng.random(int(keep.sum())) < 0.1, (g_cls[keep] + 1) % 3, g_cls[keep])
        n_fp = int(rng.integers(0, 4))
        scores = np.concatenate([0.3 + 0.7 * rng.random(len(p_boxes)), 0.6 * rng.random(n_fp)])
        p_boxes = np.concatenate([p_boxes, _random_boxes(rng, n_fp)])
        p_cls = np.concatenate([p_cls, rng.integers(0, 3, n_fp)])
        if i == 1:
            p_boxes, p_cls, scores = np.zeros((0, 4)), np.zeros(0, int), np.zeros(0)
        preds.append(Detections(p_boxes, scores, p_cls))
    return preds, gts


def _iou_one(a, b) -> float:
    """IoU of two boxes, written out scalar by scalar."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _reference_map(preds: list[Detections], gts: list[Detections], thr: float) -> float:
    """mAP at one IoU threshold with explicit loops: a global score-ordered sweep per class, then the
    precision at each of 101 recall levels as the max precision at any recall >= that level."""
    classes = sorted({int(c) for g in gts for c in g.classes})
    aps = []
    for c in classes:
        n_pos = sum(int(x == c) for g in gts for x in g.classes)
        cand = [
            (float(p.scores[k]), img, k)
            for img, p in enumerate(preds)
            for k in range(len(p))
            if int(p.classes[k]) == c
        ]
        cand.sort(key=lambda t: -t[0])
        used = [set() for _ in gts]
        tp = fp = 0
        curve = []
        for _score, img, k in cand:
            best, best_j = thr, -1
            for j in range(len(gts[img])):
                if int(gts[img].classes[j]) != c or j in used[img]:
                    continue
                v = _iou_one(preds[img].boxes[k], gts[img].boxes[j])
                if v >= best and (best_j < 0 or v > best):
                    best, best_j = v, j
            if best_j >= 0:
                used[img].add(best_j)
                tp += 1
            else:
                fp += 1
            curve.append((tp / n_pos, tp / (tp + fp)))
        total = 0.0
        for level in range(101):
            r = level / 100
            total += max((p for rr, p in curve if rr >= r - 1e-12), default=0.0)
        aps.append(total / 101)
    return float(np.mean(aps))


def _pycocotools_map(preds: list[Detections], gts: list[Detections]) -> tuple[float, float]:
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, results = [], [], []
    for i, (p, g) in enumerate(zip(preds, gts, strict=True)):
        images.append({"id": i + 1, "width": 400, "height": 400})
        for b, c in zip(g.boxes, g.classes, strict=True):
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i + 1,
                    "category_id": int(c) + 1,
                    "bbox": [float(b[0]), float(b[1]), w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        for b, s, c in zip(p.boxes, p.scores, p.classes, strict=True):
            results.append(
                {
                    "image_id": i + 1,
                    "category_id": int(c) + 1,
                    "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                    "score": float(s),
                }
            )
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {"images": images, "annotations": anns, "categories": [{"id": k} for k in (1, 2, 3)]}
        coco.createIndex()
        dt = coco.loadRes(results)
        ev = COCOeval(coco, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0]), float(ev.stats[1])
