"""YOLO-format label files as :class:`~benchmarks.detection.boxes.Detections`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from benchmarks.detection.boxes import Detections

__all__ = ["read_yolo_labels"]


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
