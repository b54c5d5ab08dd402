"""Detection uplift: does deblurring give a YOLO detector back what motion blur took away?

Run from a checkout::

    python -m benchmarks.yolo_uplift                      # small study on bundled sample photos
    python -m benchmarks.yolo_uplift --src IMAGES --labels LABELS --weights yolov8n.pt \\
        --deblurrer identity --deblurrer wiener --lengths 10,25,45

Protocol (after DeblurGAN §6.3): the detector's output on the sharp image (at ``--gt-conf``) is the
pseudo ground truth; detections (at ``--conf``) on the blurred image and on each deblurred image are
matched to it greedily by descending score, same class, IoU >= ``--iou``. Precision, recall and F1
are micro-averaged over images with percentile bootstrap confidence intervals over images; the
uplift is F1(deblurred) − F1(blurred) with a paired bootstrap interval. With real labels
(``--labels``) the same is reported against the labels, plus COCO-style mAP50 and mAP50–95 for
sharp, blurred and deblurred images. Blur is made by :func:`blurkit.synth.blur_batch`, per image
and trajectory length, seeded from ``(--seed, image, length)``; or read from ready-made pairs
(``--pairs``). See ``docs/yolo_uplift.md``.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
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
    read_yolo_labels,
)

DEFAULT_LENGTHS: tuple[int, ...] = (5, 15, 30, 45)
DEFAULT_OUT = Path("runs/yolo_uplift")
SHARP = "sharp"
BLURRED = "blurred"
PSEUDO = "pseudo"
LABELS = "labels"
UNKNOWN_LENGTH = 0  # severity of ready-made pairs whose manifest gives no trajectory length
CSV_COLUMNS = (
    "image",
    "length",
    "condition",
    "reference",
    "n_ref",
    "n_pred",
    "tp",
    "fp",
    "fn",
    "precision",
    "recall",
    "f1",
)


@dataclass(frozen=True)
class UpliftConfig:
    """All settings of one study (the CLI flags; see ``python -m benchmarks.yolo_uplift --help``)."""

    src: Path | None = None
    labels: Path | None = None
    pairs: Path | None = None
    deblurred: tuple[Path, ...] = ()
    deblurrers: tuple[str, ...] = ()  # () = identity + the registered classical ones
    lengths: tuple[int, ...] = DEFAULT_LENGTHS
    preset: str = "realistic"
    weights: str | None = None
    imgsz: int = 640
    conf: float = 0.25
    gt_conf: float = 0.25
    map_conf: float = 0.001
    iou: float = 0.5
    nms_iou: float = 0.7
    device: str = "cpu"
    seed: int = 0
    out: Path = DEFAULT_OUT
    bootstrap: int = 1000
    examples: int = 3
    max_images: int | None = None
    max_side: int | None = None

    def __post_init__(self) -> None:
        for name in ("conf", "gt_conf", "map_conf"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name}: must be in [0, 1], got {v}")
        if not 0.0 < self.iou <= 1.0:
            raise ValueError(f"iou: must be in (0, 1], got {self.iou}")
        if not self.lengths or any(L <= 0 for L in self.lengths):
            raise ValueError(
                f"lengths: need one or more positive trajectory lengths in px, got {self.lengths}"
            )
        if self.bootstrap < 1:
            raise ValueError(f"bootstrap: must be >= 1, got {self.bootstrap}")
        if self.seed < 0:
            raise ValueError(f"seed: must be >= 0, got {self.seed}")
        if self.examples < 0:
            raise ValueError(f"examples: must be >= 0, got {self.examples}")
        if self.max_images is not None and self.max_images < 1:
            raise ValueError(f"max_images: must be >= 1, got {self.max_images}")
        if self.max_side is not None and self.max_side < 32:
            raise ValueError(f"max_side: must be >= 32, got {self.max_side}")
        if self.max_side is not None and self.pairs is not None:
            raise ValueError("--max-side cannot be used with --pairs (resizing would change the blur)")
        if self.src is not None and self.pairs is not None:
            raise ValueError("--src and --pairs: give one source of images, not both")
        if self.deblurred and self.pairs is None:
            raise ValueError("--deblurred needs --pairs (the blurred images those outputs were made from)")


# ------------------------------------------------------------------------------------------- sources
@dataclass
class Item:
    """One image of the study: its sharp version and, for ready-made pairs, its blurred version."""

    key: str
    load_sharp: Callable[[], np.ndarray]
    label_path: Path | None = None
    blurred: dict[int, Callable[[], np.ndarray]] = field(default_factory=dict)
    kernel: Callable[[], np.ndarray] | None = None
    deblurred: dict[str, Callable[[], np.ndarray]] = field(default_factory=dict)


SAMPLE_MAX_SIDE = 640


def sample_items() -> list[Item]:
    """Photos with everyday objects that ship with installed dependencies (no download).

    Ultralytics' ``bus.jpg`` and ``zidane.jpg`` and scikit-image's astronaut, cat, coffee cup and
    rocket. The study shrinks them to a longest side of 640 px (``SAMPLE_MAX_SIDE``) unless
    ``--max-side`` says otherwise.
    """
    import importlib.util

    items: list[Item] = []
    spec = importlib.util.find_spec("ultralytics")  # located, not imported: its import reads the environment
    if spec is not None and spec.origin:
        assets = Path(spec.origin).resolve().parent / "assets"
        for name in ("bus.jpg", "zidane.jpg"):
            if (assets / name).is_file():
                items.append(Item(key=f"ultralytics/{name}", load_sharp=_file_loader(assets / name)))
    import skimage.data

    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        fn = getattr(skimage.data, name, None)
        if fn is not None:
            items.append(Item(key=f"skimage/{name}", load_sharp=_skimage_loader(fn)))
    if not items:
        raise FileNotFoundError("no bundled sample images found (is ultralytics or scikit-image installed?)")
    return items


def downscale(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """Shrink ``image`` (area interpolation) so its longest side is at most ``max_side`` px."""
    h, w = image.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return image
    s = max_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def _file_loader(path: Path) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from blurkit.io import read_image

        return read_image(path)

    return load


def _skimage_loader(fn: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        arr = np.asarray(fn())
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        return np.ascontiguousarray(arr[:, :, :3].astype(np.float32) / 255.0)

    return load


def folder_items(src: Path, labels: Path | None) -> list[Item]:
    """Every image under ``src`` (recursive), keyed by relative path, with its label file if any."""
    from blurkit.io import list_images

    paths = list_images(src)
    if not paths:
        raise FileNotFoundError(f"{src}: no images found")
    return [
        Item(
            key=p.relative_to(src).as_posix(),
            load_sharp=_file_loader(p),
            label_path=_label_path(labels, p.relative_to(src)) if labels is not None else None,
        )
        for p in paths
    ]


def _label_path(labels: Path, rel: Path) -> Path:
    nested = labels / rel.with_suffix(".txt")
    return nested if nested.is_file() else labels / (rel.stem + ".txt")


def pair_items(
    pairs: Path, labels: Path | None, lengths: Sequence[int], deblurred: Sequence[Path] = ()
) -> list[Item]:
    """Ready-made pairs: ``pairs/blur/REL`` with ``pairs/sharp/REL`` (same relative path).

    The trajectory length of a pair comes from the ``length`` column of ``pairs/manifest.csv`` (when
    present, matched on the blur path) and is put in the nearest bin of ``lengths``; otherwise the
    pair's length is recorded as 0 (unknown). A true kernel, needed by non-blind deblurrers, is read
    from the manifest's ``kernel`` column or ``pairs/kernels/REL`` with suffix ``.npy``. Each folder
    in ``deblurred`` holds outputs of one deblurrer with the same relative paths as ``blur/``.
    """
    from blurkit.io import IMAGE_SUFFIXES, list_images

    blur_dir, sharp_dir = pairs / "blur", pairs / "sharp"
    for d in (blur_dir, sharp_dir):
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: no such folder (--pairs needs blur/ and sharp/ inside)")
    manifest = _manifest_rows(pairs / "manifest.csv")
    sharp_by_stem = {p.relative_to(sharp_dir).with_suffix("").as_posix(): p for p in list_images(sharp_dir)}
    items = []
    for bp in list_images(blur_dir):
        rel = bp.relative_to(blur_dir)
        stem = rel.with_suffix("").as_posix()
        sp = sharp_dir / rel if (sharp_dir / rel).is_file() else sharp_by_stem.get(stem)
        if sp is None:
            raise FileNotFoundError(f"{sharp_dir / rel}: no sharp image for {bp}")
        info = manifest.get(rel.as_posix(), manifest.get(stem, {}))
        raw = info.get("length")
        length = UNKNOWN_LENGTH if raw is None else min(lengths, key=lambda L: (abs(L - raw), L))
        kernel_file = (
            pairs / info["kernel"] if info.get("kernel") else pairs / "kernels" / rel.with_suffix(".npy")
        )
        item = Item(
            key=rel.as_posix(),
            load_sharp=_file_loader(sp),
            label_path=_label_path(labels, rel) if labels is not None else None,
            blurred={length: _file_loader(bp)},
            kernel=_npy_loader(kernel_file) if kernel_file.is_file() else None,
        )
        for d in deblurred:
            cands = [d / rel] + [d / rel.with_suffix(s) for s in IMAGE_SUFFIXES]
            found = next((c for c in cands if c.is_file()), None)
            if found is None:
                raise FileNotFoundError(f"{d / rel}: no deblurred output for {bp}")
            item.deblurred[d.name] = _file_loader(found)
        items.append(item)
    if not items:
        raise FileNotFoundError(f"{blur_dir}: no images found")
    return items


def _npy_loader(path: Path) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        k = np.load(path).astype(np.float32)
        if k.ndim != 2:
            raise ValueError(f"{path}: a kernel must be a 2-D array, got shape {k.shape}")
        return k

    return load


def _manifest_rows(path: Path) -> dict[str, dict[str, Any]]:
    """Relative blur path (with and without suffix) → ``{"length": float, "kernel": str}`` from a
    ``blurkit make`` manifest (columns ``blur``/``sharp``, ``length``, ``kernel``); {} without one."""
    if not path.is_file():
        return {}
    out: dict[str, dict[str, Any]] = {}
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        path_cols = [c for c in ("blur", "sharp") if c in cols]
        for row in reader:
            info: dict[str, Any] = {}
            try:
                info["length"] = float(row["length"])
            except (KeyError, TypeError, ValueError):
                pass
            if row.get("kernel"):
                info["kernel"] = row["kernel"]
            for c in path_cols:
                rel = Path(row[c] or "")
                parts = rel.parts[1:] if rel.parts and rel.parts[0] in ("blur", "sharp") else rel.parts
                if parts:
                    r = Path(*parts)
                    out.setdefault(r.as_posix(), info)
                    out.setdefault(r.with_suffix("").as_posix(), info)
    return out


# ------------------------------------------------------------------------------------------ blurring
def blur_image(
    sharp: np.ndarray, key: str, length: int, seed: int, preset: str
) -> tuple[np.ndarray, np.ndarray]:
    """Blur one float RGB image with a trajectory of exactly ``length`` px (seeded by image and length).

    Returns:
        Blurred float32 RGB (H, W, 3) in [0, 1] and the kernel (k, k).
    """
    import torch

    try:
        from blurkit.synth import blur_batch
    except ImportError as exc:
        raise RuntimeError("blurkit.synth.blur_batch is not available in this installation") from exc
    from blurkit._rng import item_seed

    t = torch.from_numpy(np.ascontiguousarray(sharp.transpose(2, 0, 1)))[None].float()
    blurred, kernels, _records = blur_batch(
        t, [item_seed(seed, f"{key}|length={length}")], preset=preset, overrides={"length": (length, length)}
    )
    out = blurred[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float32)
    return np.ascontiguousarray(out), kernels[0].cpu().numpy().astype(np.float32)


CLASSICAL = ("unsharp", "wiener", "richardson_lucy")


def default_deblurrers() -> tuple[str, ...]:
    """``identity`` plus the classical deblurrers registered in this installation."""
    from models.base import available_deblurrers

    have = set(available_deblurrers())
    return ("identity", *(n for n in CLASSICAL if n in have))


def load_deblurrers(specs: Sequence[str], device: str) -> list[Any]:
    """Deblurrers by registered name or checkpoint path; an unknown name raises ValueError listing the names."""
    from models.base import load_deblurrer

    out = []
    for spec in specs:
        try:
            out.append(load_deblurrer(spec, device))
        except ValueError as exc:
            raise ValueError(f"--deblurrer: {exc}") from exc
    names = [getattr(d, "name", s) for d, s in zip(out, specs, strict=True)]
    if len(set(names)) != len(names):
        raise ValueError(f"--deblurrer: the same deblurrer is listed twice ({', '.join(names)})")
    return out


def run_deblurrer(deblurrer: Any, blurred: np.ndarray, kernel: np.ndarray | None, device: str) -> np.ndarray:
    """Apply a :class:`models.base.Deblurrer` to one float RGB image."""
    import torch

    needs_kernel = bool(getattr(deblurrer, "needs_kernel", False))
    if needs_kernel and kernel is None:
        raise ValueError(
            f"deblurrer {deblurrer.name!r} needs the true blur kernel, which these pairs do not supply"
        )
    x = torch.from_numpy(np.ascontiguousarray(blurred.transpose(2, 0, 1)))[None].float().to(device)
    k = torch.from_numpy(kernel)[None].float().to(device) if needs_kernel and kernel is not None else None
    with torch.no_grad():
        y = deblurrer(x, k) if k is not None else deblurrer(x)
    if tuple(y.shape) != tuple(x.shape):
        raise ValueError(
            f"deblurrer {deblurrer.name!r} returned shape {tuple(y.shape)} for input {tuple(x.shape)}"
        )
    return np.ascontiguousarray(y[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float32))


# -------------------------------------------------------------------------------------------- study
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
    if config.pairs is not None:
        items = pair_items(config.pairs, config.labels, config.lengths, config.deblurred)
    elif config.src is not None:
        items = folder_items(config.src, config.labels)
    else:
        if config.labels is not None:
            raise ValueError("--labels needs --src or --pairs (the images those labels describe)")
        items = sample_items()
    max_side = config.max_side
    if config.src is None and config.pairs is None and max_side is None:
        max_side = SAMPLE_MAX_SIDE
    if config.max_images is not None:
        items = items[: config.max_images]
    labelled = config.labels is not None
    if labelled and config.labels is not None and not config.labels.is_dir():
        raise FileNotFoundError(f"{config.labels}: no such labels folder")
    unlabelled = [
        it.key for it in items if labelled and (it.label_path is None or not it.label_path.is_file())
    ]
    if unlabelled:
        if len(unlabelled) == len(items):
            raise FileNotFoundError(
                f"{config.labels}: no label file matches any image (e.g. {unlabelled[0]})"
            )
        print(
            f"note: {len(unlabelled)} image(s) without a label file count as images without objects "
            f"(YOLO convention), e.g. {unlabelled[0]}",
            file=sys.stderr,
        )

    names: dict[int, str] = dict(getattr(detector, "names", {}))
    min_conf = min(config.conf, config.gt_conf, config.map_conf if labelled else 1.0)
    example_length = max(config.lengths)

    rows: list[dict[str, Any]] = []
    map_store: dict[tuple[str, int], list[tuple[Detections, Detections]]] = {}
    examples: list[tuple[str, np.ndarray]] = []
    for item in tqdm(items, desc="yolo_uplift", unit="img", disable=not progress):
        sharp = downscale(item.load_sharp(), max_side)
        h, w = sharp.shape[:2]
        gt_labels = None
        if labelled:
            has_file = item.label_path is not None and item.label_path.is_file()
            gt_labels = read_yolo_labels(item.label_path, w, h) if has_file else Detections.empty()

        conditions: list[tuple[str, int, np.ndarray]] = [(SHARP, 0, sharp)]
        if item.blurred:
            for length, load in item.blurred.items():
                blurred = load()
                if blurred.shape != sharp.shape:
                    raise ValueError(
                        f"{item.key}: blurred {blurred.shape} and sharp {sharp.shape} sizes differ"
                    )
                kernel = item.kernel() if item.kernel is not None else None
                conditions.append((BLURRED, length, blurred))
                for name, load_d in item.deblurred.items():
                    conditions.append((name, length, load_d()))
                for d in deblurrers:
                    conditions.append((d.name, length, run_deblurrer(d, blurred, kernel, config.device)))
        else:
            for length in config.lengths:
                blurred, kernel = blur_image(sharp, item.key, length, config.seed, config.preset)
                conditions.append((BLURRED, length, blurred))
                for d in deblurrers:
                    conditions.append((d.name, length, run_deblurrer(d, blurred, kernel, config.device)))

        dets = detect_unique(detector, [c[2] for c in conditions], min_conf)
        pseudo = dets[0].above(config.gt_conf)
        for (cond, length, _img), d in zip(conditions, dets, strict=True):
            kept = d.above(config.conf)
            rows.append(_row(item.key, length, cond, PSEUDO, kept, pseudo, config.iou))
            if gt_labels is not None:
                rows.append(_row(item.key, length, cond, LABELS, kept, gt_labels, config.iou))
                map_store.setdefault((cond, length), []).append((d.above(config.map_conf), gt_labels))

        if len(examples) < config.examples:
            examples.append(
                (item.key, _example_panel(conditions, dets, pseudo, config, example_length, names))
            )

    summary = summarize(rows, config.bootstrap, config.seed)
    if labelled:
        for s in summary:
            if s["reference"] == LABELS:
                pairs_ = map_store.get((s["condition"], s["length"]), [])
                m = mean_average_precision([p for p, _ in pairs_], [g for _, g in pairs_])
                s["map50"], s["map50_95"] = m.map50, m.map50_95
    return StudyResult(
        rows=rows,
        summary=summary,
        examples=examples,
        names=names,
        labelled=labelled,
        weights=str(getattr(detector, "weights", config.weights)),
        unlabelled=unlabelled,
    )


def detect_unique(detector: Any, images: Sequence[np.ndarray], conf: float) -> list[Detections]:
    """Run ``detector`` once per distinct image (after 8-bit quantisation, what the detector sees).

    An ``identity`` deblurrer returns the blurred image unchanged; its detections are reused.
    """
    import hashlib

    from benchmarks.detection import to_bgr_uint8

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


# ------------------------------------------------------------------------------------------ outputs
def _ci(v: Any) -> str:
    return "" if v is None else f"[{v[0]:.3f}, {v[1]:.3f}]"


def _num(v: Any, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return f"{v:+.3f}" if signed else f"{v:.3f}"


def markdown_summary(result: StudyResult, config: UpliftConfig) -> str:
    """The summary tables (one per reference) as GitHub markdown."""
    lines = []
    refs = [
        (PSEUDO, f"Against pseudo ground truth (detections on the sharp image at conf >= {config.gt_conf})")
    ]
    if result.labelled:
        refs.append((LABELS, "Against the real labels"))
    for ref, title in refs:
        cols = [
            "length px",
            "condition",
            "images",
            "P",
            "R",
            "F1",
            "F1 95% CI",
            "ΔF1 vs blurred",
            "ΔF1 95% CI",
        ]
        if ref == LABELS:
            cols += ["mAP50", "mAP50-95"]
        lines += [
            f"### {title}",
            "",
            "| " + " | ".join(cols) + " |",
            "|" + "|".join("---" for _ in cols) + "|",
        ]
        for s in result.summary:
            if s["reference"] != ref:
                continue
            cells = [
                "—" if s["condition"] == SHARP else str(s["length"]),
                s["condition"],
                str(s["images"]),
                _num(s["precision"]),
                _num(s["recall"]),
                _num(s["f1"]),
                _ci(s["f1_ci"]),
                _num(s["uplift_f1"], signed=True),
                _ci(s["uplift_f1_ci"]),
            ]
            if ref == LABELS:
                cells += [_num(s.get("map50")), _num(s.get("map50_95"))]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _example_panel(
    conditions: Sequence[tuple[str, int, np.ndarray]],
    dets: Sequence[Detections],
    pseudo: Detections,
    config: UpliftConfig,
    length: int,
    names: dict[int, str],
) -> np.ndarray:
    from benchmarks._draw import GREEN, RED, draw_detections, side_by_side
    from benchmarks.detection import match_detections

    panels = []
    available = {c[1] for c in conditions if c[0] != SHARP}
    show = length if length in available else max(available, default=0)
    for (cond, L, img), d in zip(conditions, dets, strict=True):
        if cond == SHARP:
            panels.append(
                draw_detections(img, pseudo, names, title=f"sharp (pseudo GT, conf>={config.gt_conf})")
            )
        elif show == L:
            kept = d.above(config.conf)
            m = match_detections(kept, pseudo, config.iou)
            colors = [GREEN if j >= 0 else RED for j in m.pred_to_gt]
            title = f"{cond} L={L}" if L else cond
            panels.append(draw_detections(img, kept, names, colors=colors, title=title))
    return side_by_side(panels)


def _safe_name(key: str) -> str:
    stem = Path(key).with_suffix("").as_posix()
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem)


def plot_summary(result: StudyResult) -> bytes:
    """PNG bytes: F1 (pseudo ground truth) and, when labelled, mAP50–95 against blur length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("f1", PSEUDO, "F1 vs pseudo ground truth")]
    if result.labelled:
        panels += [("f1", LABELS, "F1 vs labels"), ("map50_95", LABELS, "mAP50–95 vs labels")]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4), squeeze=False)
    for ax, (metric, ref, title) in zip(axes[0], panels, strict=True):
        conds = sorted(
            {s["condition"] for s in result.summary if s["reference"] == ref and s["condition"] != SHARP},
            key=lambda c: (c != BLURRED, c),
        )
        lengths = sorted({s["length"] for s in result.summary if s["condition"] != SHARP})
        step = min(np.diff(lengths), default=10) * 0.04  # small offsets so overlapping bars stay visible
        for n, cond in enumerate(conds):
            ss = sorted(
                (s for s in result.summary if s["reference"] == ref and s["condition"] == cond),
                key=lambda s: s["length"],
            )
            x = [s["length"] + (n - (len(conds) - 1) / 2) * step for s in ss]
            y = [s.get(metric, np.nan) for s in ss]
            style: dict[str, Any] = {"marker": "o", "label": cond}
            if cond == BLURRED:
                style.update(color="k", linewidth=2.2)
            elif cond == "identity":
                style.update(linestyle=":")
            if metric == "f1":
                lo = [s["f1"] - s["f1_ci"][0] for s in ss]
                hi = [s["f1_ci"][1] - s["f1"] for s in ss]
                ax.errorbar(x, y, yerr=[lo, hi], capsize=3, **style)
            else:
                ax.plot(x, y, **style)
        sharp = [s for s in result.summary if s["reference"] == ref and s["condition"] == SHARP]
        if sharp and sharp[0].get(metric) is not None:
            ax.axhline(sharp[0][metric], color="grey", linestyle="--", linewidth=1, label="sharp")
        ax.set_xlabel("blur trajectory length (px)")
        ax.set_ylabel(metric.replace("_", "-").replace("map", "mAP").replace("f1", "F1"))
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write_outputs(result: StudyResult, config: UpliftConfig, device: str, weights: str) -> dict[str, Path]:
    """Write CSV, markdown, plot, examples and results JSON under ``config.out`` (atomically)."""
    from benchmarks._common import metadata, write_json
    from blurkit.io import atomic_write_bytes, write_image

    out = config.out
    paths = {
        "csv": out / "per_image.csv",
        "markdown": out / "summary.md",
        "plot": out / "f1_vs_length.png",
        "json": out / "results.json",
    }
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for r in result.rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_bytes(paths["csv"], buf.getvalue().encode())
    md = f"## Detection uplift ({weights})\n\n" + markdown_summary(result, config)
    atomic_write_bytes(paths["markdown"], md.encode())
    atomic_write_bytes(paths["plot"], plot_summary(result))
    for i, (key, img) in enumerate(result.examples):
        p = out / "examples" / f"{i:02d}_{_safe_name(key)}.png"
        write_image(p, img)
        paths[f"example_{i}"] = p
    cfg = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    cfg["deblurred"] = [str(p) for p in config.deblurred]
    payload = {
        "benchmark": "yolo_uplift",
        "metadata": metadata(device),
        "config": cfg,
        "weights": weights,
        "labelled": result.labelled,
        "images_without_label_file": result.unlabelled,
        "summary": result.summary,
    }
    write_json(paths["json"], payload)
    return paths


# ---------------------------------------------------------------------------------------------- CLI
def _lengths(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"--lengths: expected comma-separated integers, got {text!r}"
        ) from exc
    if not vals or any(v <= 0 for v in vals):
        raise argparse.ArgumentTypeError(f"--lengths: expected positive integers, got {text!r}")
    return tuple(sorted(set(vals)))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.yolo_uplift",
        description="Detection uplift of deblurring: YOLO on sharp vs blurred vs deblurred images.",
    )
    p.add_argument("--src", type=Path, help="folder of sharp images (default: bundled sample photos)")
    p.add_argument("--labels", type=Path, help="YOLO-format labels (class cx cy w h, normalised), same stem")
    p.add_argument(
        "--pairs", type=Path, help="ready-made pairs: folder with blur/ and sharp/ (and manifest.csv)"
    )
    p.add_argument(
        "--deblurred",
        type=Path,
        action="append",
        default=[],
        help="deblurred outputs of --pairs/blur (repeatable)",
    )
    p.add_argument(
        "--deblurrer",
        action="append",
        default=None,
        help="registered name or checkpoint (repeatable; default identity + classical ones available)",
    )
    p.add_argument(
        "--lengths",
        type=_lengths,
        default=DEFAULT_LENGTHS,
        help="blur trajectory lengths in px (default 5,15,30,45)",
    )
    p.add_argument(
        "--preset", default="realistic", help="blur preset of blurkit.synth.blur_batch (default realistic)"
    )
    p.add_argument(
        "--weights", default=None, help="detector .pt/.onnx (default $BLURKIT_YOLO_WEIGHTS or yolov8n.pt)"
    )
    p.add_argument("--imgsz", type=int, default=640, help="detector input size (default 640)")
    p.add_argument("--conf", type=float, default=0.25, help="confidence of scored detections (default 0.25)")
    p.add_argument(
        "--gt-conf",
        type=float,
        default=0.25,
        help="confidence of the pseudo ground truth on sharp images (default 0.25)",
    )
    p.add_argument(
        "--map-conf",
        type=float,
        default=0.001,
        help="confidence of detections ranked for mAP (default 0.001)",
    )
    p.add_argument("--iou", type=float, default=0.5, help="IoU to count a match (default 0.5)")
    p.add_argument("--nms-iou", type=float, default=0.7, help="IoU of the detector's NMS (default 0.7)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default cuda when available)")
    p.add_argument("--seed", type=int, default=0, help="base seed of the blur and the bootstrap (default 0)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT}/)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for CIs (default 1000)")
    p.add_argument("--examples", type=int, default=3, help="side-by-side example images to draw (default 3)")
    p.add_argument("--max-images", type=int, default=None, help="use only the first N images")
    p.add_argument(
        "--max-side",
        type=int,
        default=None,
        help="shrink images to this longest side before blurring (default: 640 for the bundled photos, else none)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def config_from_args(args: argparse.Namespace) -> UpliftConfig:
    device = args.device
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    for flag, path in (("--src", args.src), ("--labels", args.labels), ("--pairs", args.pairs)):
        if path is not None and not path.is_dir():
            raise FileNotFoundError(f"{flag} {path}: no such folder")
    for path in args.deblurred:
        if not path.is_dir():
            raise FileNotFoundError(f"--deblurred {path}: no such folder")
    return UpliftConfig(
        src=args.src,
        labels=args.labels,
        pairs=args.pairs,
        deblurred=tuple(args.deblurred),
        deblurrers=tuple(args.deblurrer or ()),
        lengths=args.lengths,
        preset=args.preset,
        weights=args.weights,
        imgsz=args.imgsz,
        conf=args.conf,
        gt_conf=args.gt_conf,
        map_conf=args.map_conf,
        iou=args.iou,
        nms_iou=args.nms_iou,
        device=device,
        seed=args.seed,
        out=args.out,
        bootstrap=args.bootstrap,
        examples=args.examples,
        max_images=args.max_images,
        max_side=args.max_side,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        result = run_study(config, progress=not args.quiet)
        paths = write_outputs(result, config, config.device, result.weights)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(markdown_summary(result, config))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
