"""The Ultralytics YOLO adapter: weights resolution, environment set-up and a detector returning
:class:`~benchmarks.detection.boxes.Detections`.

Ultralytics itself is imported only when a :class:`YoloDetector` is made, after
:func:`prepare_ultralytics` has set its environment.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.detection.boxes import Detections

__all__ = [
    "DEFAULT_WEIGHTS",
    "WEIGHTS_ENV",
    "YoloDetector",
    "prepare_ultralytics",
    "resolve_weights",
    "to_bgr_uint8",
]

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
