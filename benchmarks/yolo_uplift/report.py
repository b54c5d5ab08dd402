"""What a study writes: the per-image CSV, the markdown summary, the plot, example pictures, JSON.

Everything is written under ``--out`` atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.detection import Detections, match_detections
from benchmarks.yolo_uplift.conditions import BLURRED, LABELS, PSEUDO, SHARP, Condition
from benchmarks.yolo_uplift.config import UpliftConfig

if TYPE_CHECKING:
    from benchmarks.yolo_uplift.study import StudyResult

__all__ = ["CSV_COLUMNS", "example_panel", "markdown_summary", "plot_summary", "write_outputs"]

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


def example_panel(
    conditions: Sequence[Condition],
    dets: Sequence[Detections],
    pseudo: Detections,
    config: UpliftConfig,
    length: int,
    names: dict[int, str],
) -> np.ndarray:
    """Side by side: the sharp image with the pseudo ground truth, then each condition at blur
    ``length`` (or the longest available), true positives green and false positives red."""
    from benchmarks._draw import GREEN, RED, draw_detections, side_by_side

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
