"""Drawing detections with OpenCV (Ultralytics' own plotting fetches a font from the internet)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from benchmarks.detection import Detections

GREEN = (40, 200, 40)
RED = (230, 40, 40)
YELLOW = (240, 200, 0)


def draw_detections(
    image: np.ndarray,
    dets: Detections,
    names: Mapping[int, str],
    colors: Sequence[tuple[int, int, int]] | None = None,
    title: str = "",
) -> np.ndarray:
    """Uint8 RGB copy of ``image`` (float [0, 1] or uint8 RGB) with boxes, labels and a title.

    Args:
        image: (H, W, 3) RGB.
        dets: boxes in pixel xyxy of ``image``.
        names: class id → name.
        colors: one RGB colour per box (yellow when omitted).
        title: text written in the top-left corner.
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float64) * 255), 0, 255).astype(np.uint8)
    canvas = np.ascontiguousarray(arr.copy())
    h, w = canvas.shape[:2]
    scale = max(h, w) / 640.0
    thick = max(1, round(2 * scale))
    font_scale = 0.5 * scale
    for k in range(len(dets)):
        x1, y1, x2, y2 = (round(v) for v in dets.boxes[k])
        color = colors[k] if colors is not None else YELLOW
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thick)
        label = f"{names.get(int(dets.classes[k]), str(int(dets.classes[k])))} {dets.scores[k]:.2f}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, max(1, thick - 1))
        ty = max(th + base, y1)
        cv2.rectangle(canvas, (x1, ty - th - base), (x1 + tw, ty), color, -1)
        cv2.putText(
            canvas, label, (x1, ty - base), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), max(1, thick - 1)
        )
    if title:
        fs = 0.8 * scale
        (tw, th), base = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, fs, thick)
        cv2.rectangle(canvas, (0, 0), (tw + 8, th + base + 8), (0, 0, 0), -1)
        cv2.putText(canvas, title, (4, th + 4), cv2.FONT_HERSHEY_SIMPLEX, fs, (255, 255, 255), thick)
    return canvas


def side_by_side(panels: Sequence[np.ndarray], height: int = 360, gap: int = 6) -> np.ndarray:
    """Uint8 RGB panels resized to a common ``height`` and joined left to right with white gaps."""
    if not panels:
        raise ValueError("panels: nothing to join")
    if height < 16:
        raise ValueError(f"height: must be >= 16, got {height}")
    resized = []
    for p in panels:
        h, w = p.shape[:2]
        new_w = max(1, round(w * height / h))
        resized.append(cv2.resize(p, (new_w, height), interpolation=cv2.INTER_AREA))
    spacer = np.full((height, gap, 3), 255, dtype=np.uint8)
    parts: list[np.ndarray] = []
    for i, r in enumerate(resized):
        if i:
            parts.append(spacer)
        parts.append(r)
    return np.concatenate(parts, axis=1)
