"""The settings of one detection-uplift study, and the command line generated from them.

Every setting is a field of :class:`UpliftConfig`, written once with its default, its help text and
how the command line reads it; :func:`build_parser` turns the fields into flags and
:func:`config_from_args` turns parsed flags back into a config.

>>> config_from_args(build_parser().parse_args(["--lengths", "30,10", "--device", "cpu"])).lengths
(10, 30)
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from benchmarks._options import add_options, existing_folders, option, options_from_args
from benchmarks.detection import DEFAULT_WEIGHTS, WEIGHTS_ENV

__all__ = [
    "DEFAULT_CONF",
    "DEFAULT_LENGTHS",
    "DEFAULT_OUT",
    "SAMPLE_MAX_SIDE",
    "UpliftConfig",
    "build_parser",
    "config_from_args",
    "parse_lengths",
]

DEFAULT_LENGTHS: tuple[int, ...] = (5, 15, 30, 45)
DEFAULT_OUT = Path("runs/yolo_uplift")
SAMPLE_MAX_SIDE = 640  # longest side of the bundled sample photos unless --max-side says otherwise
DEFAULT_CONF = 0.25  # of scored detections and of the pseudo ground truth: equal, so sharp scores F1 = 1


def parse_lengths(text: str) -> tuple[int, ...]:
    """``"30,10,10"`` → ``(10, 30)``: sorted distinct positive trajectory lengths in px."""
    try:
        vals = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"--lengths: expected comma-separated integers, got {text!r}"
        ) from exc
    if not vals or any(v <= 0 for v in vals):
        raise argparse.ArgumentTypeError(f"--lengths: expected positive integers, got {text!r}")
    return tuple(sorted(set(vals)))


def auto_device(flag: str, device: str | None) -> str:
    """``device`` as given, or ``cuda`` when available and ``cpu`` otherwise."""
    if device is not None:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class UpliftConfig:
    """All settings of one study (the CLI flags; see ``python -m benchmarks.yolo_uplift --help``)."""

    src: Path | None = option(
        None, "folder of sharp images (default: bundled sample photos)", from_cli=existing_folders
    )
    labels: Path | None = option(
        None, "YOLO-format labels (class cx cy w h, normalised), same stem", from_cli=existing_folders
    )
    pairs: Path | None = option(
        None,
        "ready-made pairs: folder with blur/ and sharp/ (and manifest.csv)",
        from_cli=existing_folders,
    )
    deblurred: tuple[Path, ...] = option(
        (), "deblurred outputs of --pairs/blur (repeatable)", repeat=True, from_cli=existing_folders
    )
    deblurrers: tuple[str, ...] = option(  # () = identity + the registered classical ones
        (),
        "registered name or checkpoint (repeatable; default identity + classical ones available)",
        flag="--deblurrer",
        repeat=True,
    )
    lengths: tuple[int, ...] = option(DEFAULT_LENGTHS, "blur trajectory lengths in px", parse=parse_lengths)
    preset: str = option("realistic", "blur preset of blurkit.synth.blur_batch")
    weights: str | None = option(None, f"detector .pt/.onnx (default ${WEIGHTS_ENV} or {DEFAULT_WEIGHTS})")
    imgsz: int = option(640, "detector input size")
    conf: float = option(DEFAULT_CONF, "confidence of scored detections")
    gt_conf: float = option(DEFAULT_CONF, "confidence of the pseudo ground truth on sharp images")
    map_conf: float = option(0.001, "confidence of detections ranked for mAP")
    iou: float = option(0.5, "IoU to count a match")
    nms_iou: float = option(0.7, "IoU of the detector's NMS")
    device: str = option(
        "cpu",
        "cpu, cuda or cuda:N (default cuda when available)",
        cli_default=None,
        from_cli=auto_device,
    )
    seed: int = option(0, "base seed of the blur and the bootstrap")
    out: Path = option(DEFAULT_OUT, "output folder", shown=f"{DEFAULT_OUT}/")
    bootstrap: int = option(1000, "bootstrap resamples for CIs")
    examples: int = option(3, "side-by-side example images to draw")
    max_images: int | None = option(None, "use only the first N images")
    max_side: int | None = option(
        None,
        "shrink images to this longest side before blurring "
        f"(default: {SAMPLE_MAX_SIDE} for the bundled photos, else none)",
    )

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


def build_parser() -> argparse.ArgumentParser:
    """The command line: one flag per :class:`UpliftConfig` field, plus ``--quiet``."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.yolo_uplift",
        description="Detection uplift of deblurring: YOLO on sharp vs blurred vs deblurred images.",
    )
    add_options(p, UpliftConfig)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def config_from_args(args: argparse.Namespace) -> UpliftConfig:
    """The config of parsed flags; a missing folder raises ``FileNotFoundError`` naming its flag."""
    config: UpliftConfig = options_from_args(UpliftConfig, args)
    return config
