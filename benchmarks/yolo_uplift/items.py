"""The images of a study: bundled sample photos, a folder of sharp images, or ready-made pairs.

Each :class:`Item` loads its images lazily, so a study holds one image at a time.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.detection import Detections, read_yolo_labels
from benchmarks.yolo_uplift.config import SAMPLE_MAX_SIDE, UpliftConfig

__all__ = [
    "UNKNOWN_LENGTH",
    "Item",
    "downscale",
    "folder_items",
    "item_labels",
    "pair_items",
    "sample_items",
    "study_items",
    "unlabelled_items",
]

UNKNOWN_LENGTH = 0  # severity of ready-made pairs whose manifest gives no trajectory length


@dataclass
class Item:
    """One image of the study: its sharp version and, for ready-made pairs, its blurred version."""

    key: str
    load_sharp: Callable[[], np.ndarray]
    label_path: Path | None = None
    blurred: dict[int, Callable[[], np.ndarray]] = field(default_factory=dict)
    kernel: Callable[[], np.ndarray] | None = None
    deblurred: dict[str, Callable[[], np.ndarray]] = field(default_factory=dict)


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


def study_items(config: UpliftConfig) -> tuple[list[Item], int | None]:
    """The items of ``config`` (pairs, a folder or the sample photos, the first ``max_images``) and
    the longest side to shrink their sharp images to."""
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
    return items, max_side


def unlabelled_items(config: UpliftConfig, items: Sequence[Item]) -> list[str]:
    """Keys of the items without a label file ([] without ``--labels``), with a note on stderr.

    Raises:
        FileNotFoundError: the labels folder is missing, or no image has a label file.
    """
    if config.labels is None:
        return []
    if not config.labels.is_dir():
        raise FileNotFoundError(f"{config.labels}: no such labels folder")
    unlabelled = [it.key for it in items if it.label_path is None or not it.label_path.is_file()]
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
    return unlabelled


def item_labels(item: Item, width: int, height: int) -> Detections:
    """The item's labels in pixels; an item without a label file has no objects (YOLO convention)."""
    if item.label_path is not None and item.label_path.is_file():
        return read_yolo_labels(item.label_path, width, height)
    return Detections.empty()
