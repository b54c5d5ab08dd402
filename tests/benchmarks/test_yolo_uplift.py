"""The detection-uplift study: summaries, outputs, CLI errors, and end-to-end runs with YOLO."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks import yolo_uplift as yu
from benchmarks.detection import Detections
from blurkit.io import read_image, write_image

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ONNX = DATA / "detector" / "yolov8n_int8.onnx"


needs_onnx = pytest.mark.skipif(
    not ONNX.is_file(), reason=f"offline detector weights not found at {ONNX} (shared data folder absent)"
)


class SquareDetector:
    """A stand-in detector: bright connected regions are objects of class 0, score = mean brightness."""

    names = {0: "square"}  # noqa: RUF012
    weights = "square-detector"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, images, conf=0.25):
        out = []
        for im in images:
            self.calls += 1
            gray = np.asarray(im, dtype=np.float32).mean(axis=2)
            mask = (gray > 0.5).astype(np.uint8)
            n, _lab, stats, _ = cv2.connectedComponentsWithStats(mask)
            boxes, scores = [], []
            for k in range(1, n):
                x, y, w, h, area = stats[k]
                if area < 4:
                    continue
                boxes.append([x, y, x + w, y + h])
                scores.append(float(gray[y : y + h, x : x + w].mean()))
            d = Detections(np.array(boxes, float).reshape(-1, 4), np.array(scores), np.zeros(len(boxes), int))
            out.append(d.above(conf))
        return out


def _scene(rng: np.random.Generator, h: int = 96, w: int = 128) -> tuple[np.ndarray, list[list[float]]]:
    img = np.full((h, w, 3), 0.1, np.float32)
    boxes = []
    for _ in range(int(rng.integers(2, 5))):
        bw, bh = (int(v) for v in rng.integers(6, 20, 2))
        x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
        if any(x < b[2] + 2 and b[0] < x + bw + 2 and y < b[3] + 2 and b[1] < y + bh + 2 for b in boxes):
            continue
        img[y : y + bh, x : x + bw] = 0.95
        boxes.append([x, y, x + bw, y + bh])
    return img, boxes


def _make_pairs(root: Path, n: int = 5, blur: int = 15) -> Path:
    """pairs/{sharp,blur}/, labels/ and a 'restored' folder that holds the sharp images."""
    rng = np.random.default_rng(0)
    for i in range(n):
        img, boxes = _scene(rng)
        write_image(root / "pairs" / "sharp" / f"im{i}.png", img)
        write_image(root / "pairs" / "blur" / f"im{i}.png", cv2.blur(img, (blur, blur)))
        write_image(root / "restored" / f"im{i}.png", img)
        h, w = img.shape[:2]
        lines = [
            f"0 {(b[0] + b[2]) / 2 / w} {(b[1] + b[3]) / 2 / h} {(b[2] - b[0]) / w} {(b[3] - b[1]) / h}"
            for b in boxes
        ]
        (root / "labels").mkdir(exist_ok=True)
        (root / "labels" / f"im{i}.txt").write_text("\n".join(lines) + "\n")
    with open(root / "pairs" / "manifest.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["blur", "sharp", "length"])
        for i in range(n):
            wr.writerow([f"blur/im{i}.png", f"sharp/im{i}.png", 14.0])
    return root


# ------------------------------------------------------------------------------------------- summary
def _row(image, length, cond, tp, fp, fn, ref="pseudo"):
    return {
        "image": image,
        "length": length,
        "condition": cond,
        "reference": ref,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def test_summarize_micro_average_and_uplift():
    rows = [
        _row("a", 0, "sharp", 3, 0, 0),
        _row("b", 0, "sharp", 2, 0, 0),
        _row("a", 10, "blurred", 1, 1, 2),
        _row("b", 10, "blurred", 1, 0, 1),
        _row("a", 10, "wiener", 3, 0, 0),
        _row("b", 10, "wiener", 1, 1, 1),
    ]
    s = {(r["condition"], r["length"]): r for r in yu.summarize(rows, n_boot=200, seed=0)}
    blurred, wiener = s[("blurred", 10)], s[("wiener", 10)]
    assert (blurred["tp"], blurred["fp"], blurred["fn"]) == (2, 1, 3)
    assert blurred["f1"] == pytest.approx(4 / 8)  # 2tp / (2tp + fp + fn)
    assert (wiener["tp"], wiener["fp"], wiener["fn"]) == (4, 1, 1)
    assert wiener["f1"] == pytest.approx(8 / 10)
    assert wiener["uplift_f1"] == pytest.approx(8 / 10 - 4 / 8)
    assert blurred["uplift_f1"] is None and s[("sharp", 0)]["f1"] == 1.0
    lo, hi = wiener["f1_ci"]
    assert lo <= wiener["f1"] <= hi


def test_summarize_is_seeded():
    rows = [_row(f"i{k}", 5, c, k % 3, k % 2, (k + 1) % 3) for k in range(12) for c in ("blurred", "x")]
    assert yu.summarize(rows, 100, 1) == yu.summarize(rows, 100, 1)


# ---------------------------------------------------------------------------------- pairs, fake detector
def test_pairs_study_end_to_end(tmp_path):
    root = _make_pairs(tmp_path)
    cfg = yu.UpliftConfig(
        pairs=root / "pairs",
        labels=root / "labels",
        deblurred=(root / "restored",),
        deblurrers=("identity",),
        lengths=(5, 15, 30),
        out=tmp_path / "out",
        bootstrap=100,
        examples=2,
    )
    det = SquareDetector()
    result = yu.run_study(cfg, detector=det, progress=False)
    s = {(r["reference"], r["condition"]): r for r in result.summary}
    # The manifest's length 14 falls in the 15 px bin.
    assert {r["length"] for r in result.summary if r["condition"] != "sharp"} == {15}
    # Restored == sharp: perfect against both references; blur loses boxes; identity == blurred.
    assert s[("pseudo", "restored")]["f1"] == 1.0
    assert s[("labels", "restored")]["map50_95"] == pytest.approx(s[("labels", "sharp")]["map50_95"])
    assert s[("labels", "sharp")]["map50"] == pytest.approx(1.0)
    assert s[("pseudo", "blurred")]["f1"] < 1.0
    assert s[("pseudo", "restored")]["uplift_f1"] == pytest.approx(1.0 - s[("pseudo", "blurred")]["f1"])
    assert s[("pseudo", "restored")]["uplift_f1"] > 0
    assert s[("pseudo", "identity")]["uplift_f1"] == 0.0
    assert s[("labels", "blurred")]["map50_95"] < s[("labels", "sharp")]["map50_95"]
    # Identical images are detected once: identity reuses the blurred detections, restored the sharp.
    assert det.calls == 5 * 2

    paths = yu.write_outputs(result, cfg, "cpu", det.weights)
    with open(paths["csv"]) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 * 4 * 2  # images x (sharp, blurred, restored, identity) x references
    assert set(rows[0]) == set(yu.CSV_COLUMNS)
    payload = json.loads(paths["json"].read_text())
    assert payload["metadata"]["device"] == "cpu" and "commit" in payload["metadata"]
    assert payload["labelled"] is True and len(payload["summary"]) == len(result.summary)
    md = paths["markdown"].read_text()
    assert "mAP50-95" in md and "restored" in md
    plot = cv2.imread(str(paths["plot"]))
    assert plot is not None and plot.shape[1] > 1000  # three panels when labelled
    ex = read_image(paths["example_0"])
    assert ex.shape[0] == 360 and ex.shape[1] > 3 * 100  # sharp | blurred | deblurred panels
    assert not list(paths["csv"].parent.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_missing_label_file_means_no_objects(tmp_path, capsys):
    root = _make_pairs(tmp_path, n=3)
    (root / "labels" / "im1.txt").unlink()
    cfg = yu.UpliftConfig(
        pairs=root / "pairs", labels=root / "labels", deblurrers=("identity",), bootstrap=20
    )
    result = yu.run_study(cfg, detector=SquareDetector(), progress=False)
    assert result.unlabelled == ["im1.png"]
    assert "1 image(s) without a label file" in capsys.readouterr().err
    row = next(r for r in result.rows if r["image"] == "im1.png" and r["reference"] == "labels")
    assert row["n_ref"] == 0 and row["tp"] == 0 and row["fp"] == row["n_pred"] > 0


def test_pairs_needing_kernel_without_one_fails_clearly(tmp_path):
    root = _make_pairs(tmp_path, n=1)

    class NeedsKernel:
        name = "oracle"
        needs_kernel = True

        def __call__(self, blurred, kernels=None):
            return blurred

    with pytest.raises(ValueError, match=r"oracle.*kernel"):
        yu.run_deblurrer(NeedsKernel(), read_image(root / "pairs" / "blur" / "im0.png"), None, "cpu")


def test_pair_items_read_manifest_kernel_and_length(tmp_path):
    root = _make_pairs(tmp_path, n=2)
    kern = np.zeros((5, 5), np.float32)
    kern[2, :] = 0.2
    (root / "pairs" / "k").mkdir()
    np.save(root / "pairs" / "k" / "a.npy", kern)
    with open(root / "pairs" / "manifest.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["blur", "sharp", "kernel", "length"])
        wr.writerow(["blur/im0.png", "sharp/im0.png", "k/a.npy", 41.0])
    items = {it.key: it for it in yu.pair_items(root / "pairs", None, (10, 25, 45))}
    assert list(items["im0.png"].blurred) == [45]
    assert list(items["im1.png"].blurred) == [yu.UNKNOWN_LENGTH]  # not in the manifest
    np.testing.assert_array_equal(items["im0.png"].kernel(), kern)
    assert items["im1.png"].kernel is None


def test_pair_items_missing_sharp(tmp_path):
    root = _make_pairs(tmp_path, n=1)
    (root / "pairs" / "sharp" / "im0.png").unlink()
    with pytest.raises(FileNotFoundError, match="im0"):
        yu.pair_items(root / "pairs", None, (15,))


def test_downscale_keeps_aspect_and_small_images():
    img = np.zeros((100, 400, 3), np.float32)
    assert yu.downscale(img, 200).shape == (50, 200, 3)
    assert yu.downscale(img, 500) is img
    assert yu.downscale(img, None) is img


def test_config_rejects_inconsistent_flags(tmp_path):
    with pytest.raises(ValueError, match="max.side"):
        yu.UpliftConfig(pairs=tmp_path, max_side=256)
    with pytest.raises(ValueError, match="--src and --pairs"):
        yu.UpliftConfig(src=tmp_path, pairs=tmp_path)
    with pytest.raises(ValueError, match="lengths"):
        yu.UpliftConfig(lengths=(0, 5))


# ---------------------------------------------------------------------------------------------- CLI
def _cli(capsys, *argv):
    rc = yu.main(list(argv))
    return rc, capsys.readouterr()


def test_cli_missing_src_folder(tmp_path, capsys):
    rc, out = _cli(capsys, "--src", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert rc == 2
    assert "nope" in out.err and out.err.count("\n") == 1


def test_cli_unknown_deblurrer_lists_names(tmp_path, capsys):
    rc, out = _cli(capsys, "--deblurrer", "no-such-model", "--out", str(tmp_path / "o"))
    assert rc == 2
    assert "no-such-model" in out.err and "identity" in out.err


def test_cli_deblurred_needs_pairs(tmp_path, capsys):
    rc, out = _cli(capsys, "--deblurred", str(tmp_path), "--out", str(tmp_path / "o"))
    assert rc == 2 and "--pairs" in out.err


def test_cli_bad_lengths_exit_nonzero(tmp_path):
    with pytest.raises(SystemExit) as exc:
        yu.main(["--lengths", "5,x", "--out", str(tmp_path / "o")])
    assert exc.value.code != 0


def test_cli_bad_conf(tmp_path, capsys):
    rc, out = _cli(capsys, "--conf", "1.5", "--out", str(tmp_path / "o"))
    assert rc == 2 and "conf" in out.err


def test_cli_offline_without_weights_names_flag_and_env(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BLURKIT_YOLO_WEIGHTS", raising=False)
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    rc, out = _cli(capsys, "--out", str(tmp_path / "o"), "--quiet")
    assert rc == 2
    assert "--weights" in out.err and "BLURKIT_YOLO_WEIGHTS" in out.err


# ----------------------------------------------------------------------------------- real detector
def _two_sample_pairs(root: Path) -> Path:
    items = yu.sample_items()[:2]  # ultralytics bus.jpg and zidane.jpg
    for it in items:
        img = it.load_sharp()
        h, w = img.shape[:2]
        small = cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        name = Path(it.key).stem + ".png"
        write_image(root / "sharp" / name, small)
        k = np.zeros((15, 15), np.float32)
        k[7, :] = 1 / 15  # horizontal motion, 15 px
        write_image(root / "blur" / name, cv2.filter2D(small, -1, k, borderType=cv2.BORDER_REFLECT))
    return root


@needs_onnx
def test_real_detector_on_pairs(tmp_path, capsys):
    pairs = _two_sample_pairs(tmp_path / "pairs")
    out = tmp_path / "out"
    argv = ["--pairs", str(pairs), "--weights", str(ONNX), "--deblurrer", "identity", "--imgsz", "320"]
    rc, res = _cli(
        capsys, *argv, "--out", str(out), "--bootstrap", "50", "--examples", "1", "--device", "cpu", "--quiet"
    )
    assert rc == 0, res.err
    assert "| identity |" in res.out
    payload = json.loads((out / "results.json").read_text())
    s = {r["condition"]: r for r in payload["summary"] if r["reference"] == "pseudo"}
    assert s["sharp"]["f1"] == 1.0  # same confidence for scoring and pseudo ground truth
    assert s["sharp"]["tp"] >= 5  # people and a bus on bus.jpg, people on zidane.jpg
    assert 0.0 <= s["blurred"]["f1"] <= 1.0
    assert s["identity"]["uplift_f1"] == 0.0
    assert (out / ".ultralytics").is_dir()  # Ultralytics' settings kept inside --out
    assert (out / "examples").is_dir() and (out / "f1_vs_length.png").is_file()


@needs_onnx
def test_real_detector_with_blurkit_blur(tmp_path, capsys):
    src = tmp_path / "src"
    for it in yu.sample_items()[:2]:
        img = it.load_sharp()
        h, w = img.shape[:2]
        write_image(
            src / (Path(it.key).stem + ".png"),
            cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
        )
    common = ["--src", str(src), "--weights", str(ONNX), "--deblurrer", "identity", "--lengths", "25"]
    common += ["--bootstrap", "50", "--examples", "1", "--device", "cpu", "--quiet", "--imgsz", "320"]
    rc, res = _cli(capsys, *common, "--out", str(tmp_path / "a"))
    assert rc == 0, res.err
    rc, res = _cli(capsys, *common, "--out", str(tmp_path / "b"))
    assert rc == 0, res.err
    a = (tmp_path / "a" / "per_image.csv").read_text()
    assert a == (tmp_path / "b" / "per_image.csv").read_text()  # seeded blur: same results
    rows = list(csv.DictReader(a.splitlines()))
    assert {r["length"] for r in rows} == {"0", "25"}
    assert len(rows) == 2 * 3  # images x (sharp, blurred, identity)
