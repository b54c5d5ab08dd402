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

Modules: :mod:`~benchmarks.yolo_uplift.config` (the settings and the command line generated from
them), :mod:`~benchmarks.yolo_uplift.items` (the images), :mod:`~benchmarks.yolo_uplift.conditions`
(blurring and deblurring), :mod:`~benchmarks.yolo_uplift.study` (detection, counting, summary),
:mod:`~benchmarks.yolo_uplift.report` (the files written) and ``__main__`` (the command line).
"""

from __future__ import annotations

from typing import Any

from benchmarks.yolo_uplift.conditions import (
    BLURRED,
    CLASSICAL,
    LABELS,
    PSEUDO,
    SHARP,
    blur_image,
    default_deblurrers,
    item_conditions,
    load_deblurrers,
    run_deblurrer,
)
from benchmarks.yolo_uplift.config import (
    DEFAULT_CONF,
    DEFAULT_LENGTHS,
    DEFAULT_OUT,
    SAMPLE_MAX_SIDE,
    UpliftConfig,
    build_parser,
    config_from_args,
)
from benchmarks.yolo_uplift.items import (
    UNKNOWN_LENGTH,
    Item,
    downscale,
    folder_items,
    pair_items,
    sample_items,
)
from benchmarks.yolo_uplift.report import CSV_COLUMNS, markdown_summary, plot_summary, write_outputs
from benchmarks.yolo_uplift.study import StudyResult, detect_unique, run_study, summarize

__all__ = [
    "BLURRED",
    "CLASSICAL",
    "CSV_COLUMNS",
    "DEFAULT_CONF",
    "DEFAULT_LENGTHS",
    "DEFAULT_OUT",
    "LABELS",
    "PSEUDO",
    "SAMPLE_MAX_SIDE",
    "SHARP",
    "UNKNOWN_LENGTH",
    "Item",
    "StudyResult",
    "UpliftConfig",
    "blur_image",
    "build_parser",
    "config_from_args",
    "default_deblurrers",
    "detect_unique",
    "downscale",
    "folder_items",
    "item_conditions",
    "load_deblurrers",
    "main",
    "markdown_summary",
    "pair_items",
    "plot_summary",
    "run_deblurrer",
    "run_study",
    "sample_items",
    "summarize",
    "write_outputs",
]


def __getattr__(name: str) -> Any:
    # ``main`` lives in ``__main__``, imported on first use: importing it here would make
    # ``python -m benchmarks.yolo_uplift`` find that module already loaded and warn.
    if name == "main":
        from benchmarks.yolo_uplift.__main__ import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
