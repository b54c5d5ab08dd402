"""One self-contained HTML page for a comparison of deblurrers (``python -m benchmarks.compare --html``).

The page holds everything inline — images as JPEG (quality 95, 4:4:4) or PNG ``data:`` URIs, the chart as SVG, one small script
and the styles — and a Content-Security-Policy that forbids every other source, so it opens offline
and loads nothing from the network. Sections:

1. the score table (mean PSNR, SSIM and time per deblurrer; the best of each column in bold);
2. the per-image chart: PSNR of every deblurrer on every pair (hover a point for its values);
3. one before/after slider per pair: the blurred input on the left of the handle, the chosen
   deblurrer's output (or the sharp image) on the right; drag the image or the range input, pick the
   deblurrer with the buttons below it.

Images on the page are reduced to ``max_side`` pixels (area interpolation; scores are computed at full
size beforehand) and small ones are shown enlarged, pixelated.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
SHARP = "sharp"


@dataclass
class ReportPair:
    """The images of one pair shown on the page (uint8 RGB, already reduced for display)."""

    key: str
    blurred: np.ndarray
    sharp: np.ndarray
    restored: dict[str, np.ndarray] = field(default_factory=dict)


def reduce_for_display(img: np.ndarray, max_side: int) -> np.ndarray:
    """``img`` (uint8 RGB) scaled down so that its longer side is at most ``max_side``.

    >>> reduce_for_display(np.zeros((100, 40, 3), np.uint8), 50).shape
    (50, 20, 3)
    """
    import cv2

    if max_side < 8:
        raise ValueError(f"max_side: must be >= 8, got {max_side}")
    h, w = img.shape[:2]
    s = max_side / max(h, w)
    if s >= 1.0:
        return np.ascontiguousarray(img)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


IMAGE_FORMATS = ("jpg", "png")


def image_data_uri(img: np.ndarray, fmt: str = "jpg", quality: int = 95) -> str:
    """A ``data:`` URI of a uint8 RGB (H, W, 3) or gray (H, W) image.

    ``fmt="jpg"`` (quality ``quality``, no chroma subsampling) keeps pages small; ``"png"`` is
    lossless.

    >>> image_data_uri(np.zeros((4, 4, 3), np.uint8), "png")[:22]
    'data:image/png;base64,'
    """
    import cv2

    arr = np.asarray(img)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3):
        raise ValueError(f"image: expected uint8 (H, W) or (H, W, 3), got {arr.dtype} {arr.shape}")
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"fmt: expected one of {', '.join(IMAGE_FORMATS)}, got {fmt!r}")
    bgr = np.ascontiguousarray(arr[:, :, ::-1] if arr.ndim == 3 else arr)
    if fmt == "png":
        ok, buf = cv2.imencode(".png", bgr)
        mime = "image/png"
    else:
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):
            params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
        ok, buf = cv2.imencode(".jpg", bgr, params)
        mime = "image/jpeg"
    if not ok:
        raise ValueError(f"image: {fmt} encoding failed for shape {arr.shape}")
    return f"data:{mime};base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _fmt(v: Any, digits: int) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        if math.isinf(v):
            return "∞"
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def score_table(summary: Sequence[Mapping[str, Any]]) -> str:
    """The summary rows as an HTML table; the best PSNR, SSIM and time in bold."""
    cols = [
        ("deblurrer", "deblurrer", 0, None),
        ("pairs", "pairs", 0, None),
        ("psnr", "PSNR (dB)", 2, max),
        ("ssim_skimage", "SSIM (skimage)", 4, max),
        ("seconds_per_image", "s / image", 3, min),
    ]
    best: dict[str, float] = {}
    for key, _, _, pick in cols:
        vals = [float(r[key]) for r in summary if isinstance(r.get(key), float) and math.isfinite(r[key])]
        if pick is not None and vals:
            best[key] = pick(vals)
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _, _ in cols)
    body = []
    for i, r in enumerate(summary):
        cells = []
        for key, _, digits, _ in cols:
            text = _fmt(r.get(key, ""), digits)
            if key == "deblurrer":
                text = f'<span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></span>{text}'
            bold = key in best and isinstance(r.get(key), float) and r[key] == best[key]
            cells.append(f"<td{' class=best' if bold else ''}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="scores"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def per_image_chart(rows: Sequence[Mapping[str, Any]], deblurrers: Sequence[str], metric: str = "psnr") -> str:
    """An inline SVG: ``metric`` of every deblurrer (one colour each) on every pair (x axis).

    Infinite values (identical images) are drawn at the top edge as open circles.
    """
    pairs: list[str] = []
    for r in rows:
        if r["pair"] not in pairs:
            pairs.append(r["pair"])
    finite = [float(r[metric]) for r in rows if math.isfinite(float(r[metric]))]
    if not pairs or not finite:
        return '<p class="note">No scores to chart.</p>'
    lo, hi = min(finite), max(finite)
    pad = max(0.5, 0.05 * (hi - lo))
    lo, hi = math.floor(lo - pad), math.ceil(hi + pad)
    width, height, left, right, top, bottom = max(480, 28 * len(pairs) + 90), 300, 56, 16, 14, 70
    pw, ph = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (i + 0.5) * pw / len(pairs)

    def y(v: float) -> float:
        return top + (hi - min(max(v, lo), hi)) * ph / (hi - lo)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(metric)} per image">'
    ]
    step = max(1, math.ceil((hi - lo) / 6))
    tick = lo
    while tick <= hi:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
        tick += step
    label = "PSNR (dB)" if metric == "psnr" else metric
    parts.append(
        f'<text x="14" y="{top + ph / 2:.1f}" transform="rotate(-90 14 {top + ph / 2:.1f})" '
        f'text-anchor="middle">{html.escape(label)}</text>'
    )
    for i, p in enumerate(pairs):
        short = p if len(p) <= 14 else "…" + p[-13:]
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - bottom + 14}" transform="rotate(45 {x(i):.1f} {height - bottom + 14})" '
            f'class="tick">{html.escape(short)}</text>'
        )
    by = {(r["pair"], r["deblurrer"]): float(r[metric]) for r in rows}
    for j, spec in enumerate(deblurrers):
        colour = PALETTE[j % len(PALETTE)]
        pts = [(i, by[(p, spec)]) for i, p in enumerate(pairs) if (p, spec) in by and not math.isnan(by[(p, spec)])]
        if len(pts) > 1:
            path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in pts)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-opacity="0.45"/>')
        for i, v in pts:
            fill = "none" if math.isinf(v) else colour
            tip = f"{pairs[i]} — {spec}: {_fmt(v, 2)}"
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="4" fill="{fill}" stroke="{colour}" '
                f'data-deblurrer="{html.escape(spec)}"><title>{html.escape(tip)}</title></circle>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="legend"><span class="swatch" style="background:{PALETTE[j % len(PALETTE)]}"></span>'
        f"{html.escape(s)}</span>"
        for j, s in enumerate(deblurrers)
    )
    return f'<div class="chart-wrap">{"".join(parts)}</div><div class="legends">{legend}</div>'


def _finite(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else -math.inf


def _slider(
    index: int,
    pair: ReportPair,
    rows: Sequence[Mapping[str, Any]],
    min_width: int,
    mean_psnr: Mapping[str, float],
    fmt: str,
) -> str:
    h, w = pair.blurred.shape[:2]
    zoom = max(1, math.ceil(min_width / w))
    style = f"aspect-ratio:{w}/{h}"
    pixelated = " pixelated" if zoom > 1 else ""
    scores = {r["deblurrer"]: r for r in rows if r["pair"] == pair.key}
    # the first choice shown: the deblurrer with the best mean PSNR (ties: the first listed)
    ranked = sorted(pair.restored, key=lambda n: -_finite(mean_psnr.get(n)))
    choices = [*ranked, SHARP]
    afters, buttons = [], []
    for j, name in enumerate(choices):
        img = pair.sharp if name == SHARP else pair.restored[name]
        hidden = "" if j == 0 else " hidden"
        label = "sharp image" if name == SHARP else f"output of {name}"
        afters.append(
            f'<img class="after" data-name="{html.escape(name)}" src="{image_data_uri(img, fmt)}" alt="{html.escape(label)}"{hidden}>'
        )
        r = scores.get(name)
        detail = f" · {_fmt(float(r['psnr']), 2)} dB" if r is not None else ""
        checked = " checked" if j == 0 else ""
        buttons.append(
            f'<label><input type="radio" name="choice-{index}" value="{html.escape(name)}"{checked}>'
            f"{html.escape(name)}{detail}</label>"
        )
    first = html.escape(choices[0])
    return (
        f'<figure class="cmp" id="pair-{index}" data-pair="{html.escape(pair.key)}" style="width:{w * zoom}px">'
        f'<figcaption>{html.escape(pair.key)}</figcaption>'
        f'<div class="stage{pixelated}" style="{style}">'
        f"{''.join(afters)}"
        f'<img class="before" src="{image_data_uri(pair.blurred, fmt)}" alt="blurred input">'
        f'<div class="handle"></div>'
        f'<span class="tag left">blurred</span><span class="tag right">{first}</span>'
        f"</div>"
        f'<input type="range" class="slider" min="0" max="100" value="50" step="0.5" '
        f'aria-label="before/after position for {html.escape(pair.key)}">'
        f'<div class="choices">{"".join(buttons)}</div>'
        f"</figure>"
    )


CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:.85em}
table.scores{border-collapse:collapse}table.scores th,table.scores td{padding:4px 12px;border-bottom:1px solid #e4e4e4;text-align:right}
table.scores th:first-child,table.scores td:first-child{text-align:left}td.best{font-weight:700}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
.chart-wrap{overflow-x:auto}.chart text{font-size:11px;fill:#444}.chart .grid{stroke:#eee}
.legends{margin:4px 0 0 56px}.legend{margin-right:16px;font-size:.9em}
.pairs{display:flex;flex-wrap:wrap;gap:28px}
figure.cmp{margin:0;max-width:100%}figcaption{font-weight:600;margin-bottom:4px;word-break:break-all}
.stage{position:relative;width:100%;touch-action:none;cursor:ew-resize;user-select:none;background:#000}
.stage img{position:absolute;top:0;left:0;width:100%;height:100%;display:block;pointer-events:none}
.stage img[hidden]{display:none}.stage.pixelated img{image-rendering:pixelated}
.stage .before{clip-path:inset(0 50% 0 0)}
.handle{position:absolute;top:0;bottom:0;left:50%;width:2px;margin-left:-1px;background:#fff;box-shadow:0 0 3px #000;pointer-events:none}
.tag{position:absolute;top:6px;padding:1px 6px;font-size:12px;background:rgba(0,0,0,.55);color:#fff;border-radius:3px;pointer-events:none}
.tag.left{left:6px}.tag.right{right:6px}
input.slider{width:100%;margin:6px 0 2px}
.choices label{margin-right:12px;font-size:.9em;white-space:nowrap}
.note{color:#666}
"""

SCRIPT = """
(function () {
  "use strict";
  function place(fig, value) {
    var v = Math.min(100, Math.max(0, Number(value)));
    fig.querySelector(".before").style.clipPath = "inset(0 " + (100 - v) + "% 0 0)";
    fig.querySelector(".handle").style.left = v + "%";
    fig.dataset.position = String(v);
  }
  function show(fig, name) {
    fig.querySelectorAll("img.after").forEach(function (img) {
      img.hidden = img.dataset.name !== name;
    });
    fig.querySelector(".tag.right").textContent = name;
    fig.dataset.showing = name;
  }
  document.querySelectorAll("figure.cmp").forEach(function (fig) {
    var range = fig.querySelector("input.slider");
    var stage = fig.querySelector(".stage");
    var dragging = false;
    function fromPointer(event) {
      var box = stage.getBoundingClientRect();
      range.value = String(100 * (event.clientX - box.left) / box.width);
      place(fig, range.value);
    }
    range.addEventListener("input", function () { place(fig, range.value); });
    stage.addEventListener("pointerdown", function (event) {
      dragging = true;
      stage.setPointerCapture(event.pointerId);
      fromPointer(event);
    });
    stage.addEventListener("pointermove", function (event) { if (dragging) { fromPointer(event); } });
    stage.addEventListener("pointerup", function () { dragging = false; });
    stage.addEventListener("pointercancel", function () { dragging = false; });
    fig.querySelectorAll("input[type=radio]").forEach(function (radio) {
      radio.addEventListener("change", function () { if (radio.checked) { show(fig, radio.value); } });
    });
    place(fig, range.value);
    var checked = fig.querySelector("input[type=radio]:checked");
    if (checked) { show(fig, checked.value); }
  });
})();
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def render_report(
    summary: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    pairs: Sequence[ReportPair],
    title: str = "Deblurring comparison",
    meta: Mapping[str, Any] | None = None,
    min_width: int = 320,
    image_format: str = "jpg",
) -> str:
    """The whole page as a string.

    Args:
        summary: one row per deblurrer (``deblurrer``, ``pairs``, ``psnr``, ``ssim_skimage``,
            ``seconds_per_image``), as :func:`benchmarks.compare.compare` returns.
        rows: one row per (pair, deblurrer) with ``pair``, ``deblurrer`` and ``psnr``.
        pairs: the pairs that get a slider, with their reduced images.
        title: the page title.
        meta: run metadata shown under the title (date, commit, device, …).
        min_width: sliders of smaller images are enlarged to at least this width (CSS pixels).
        image_format: ``jpg`` (quality 95, no chroma subsampling; small pages) or ``png`` (lossless).
    """
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format: expected one of {', '.join(IMAGE_FORMATS)}, got {image_format!r}")
    deblurrers = [str(s["deblurrer"]) for s in summary]
    meta_text = " · ".join(f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in (meta or {}).items())
    n_pairs = len({r["pair"] for r in rows})
    mean_psnr = {str(s["deblurrer"]): s.get("psnr", math.nan) for s in summary}
    sliders = "".join(_slider(i, p, rows, min_width, mean_psnr, image_format) for i, p in enumerate(pairs))
    shown = (
        f"<p class=note>The first {len(pairs)} of {n_pairs} pairs.</p>" if 0 < len(pairs) < n_pairs else ""
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=meta>{meta_text}</p>"
        "<h2>Scores</h2>"
        f"{score_table(summary)}"
        "<p class=note>PSNR on 8-bit RGB (peak 255), SSIM of the <code>skimage</code> variant, means over the "
        "pairs each deblurrer ran on (non-blind methods need the pair's kernel).</p>"
        "<h2>Per image</h2>"
        f"{per_image_chart(rows, deblurrers)}"
        "<h2>Before / after</h2>"
        "<p class=note>Left of the handle: the blurred input; right: the chosen output. Drag the image or "
        "the slider; images are reduced for the page.</p>"
        f'{shown}<div class="pairs">{sliders}</div>'
        f"<script>{SCRIPT}</script>"
        "</body></html>\n"
    )


def write_report(path: str | Path, *args: Any, **kwargs: Any) -> Path:
    """Render (:func:`render_report`) and write the page atomically; returns its path."""
    from blurkit.io import atomic_write_bytes

    p = Path(path)
    atomic_write_bytes(p, render_report(*args, **kwargs).encode("utf-8"))
    return p
