"""Pictures of kernels: a terminal rendering and a PNG grid with the trajectories drawn over them."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

RAMP = " .:-=+*#%@"


def _trajectory_pixels(positions: np.ndarray, kernel_size: int, exposure: float, scale: float) -> np.ndarray:
    """Map a trajectory's samples into the pixel frame of its centred kernel."""
    m = max(2, min(len(positions), int(round(exposure * len(positions)))))
    used = positions[:m]
    c = (kernel_size - 1) / 2.0
    return c + (used - used.mean(axis=0)) * scale


def kernel_to_text(kernel: np.ndarray, width: int = 24, path: np.ndarray | None = None) -> list[str]:
    """Render a kernel as lines of characters (darker = more mass), two characters per column.

    If ``path`` (the trajectory in kernel pixels) is given, its start and end are marked ``S`` and ``E``.
    """
    k = np.asarray(kernel, dtype=np.float64)
    n = k.shape[0]
    cells = max(1, min(width, n))
    step = n / cells
    grid = np.zeros((cells, cells))
    for i in range(cells):
        for j in range(cells):
            grid[i, j] = k[int(i * step) : max(int((i + 1) * step), int(i * step) + 1),
                           int(j * step) : max(int((j + 1) * step), int(j * step) + 1)].sum()
    peak = grid.max() or 1.0
    idx = np.clip(np.sqrt(grid / peak) * (len(RAMP) - 1), 0, len(RAMP) - 1).round().astype(int)
    chars = [[RAMP[v] * 2 for v in row] for row in idx]
    if path is not None and len(path):
        for mark, (x, y) in (("S ", path[0]), ("E ", path[-1])):
            r = min(cells - 1, max(0, int(y / step)))
            c = min(cells - 1, max(0, int(x / step)))
            chars[r][c] = mark
    return ["".join(row) for row in chars]


def text_grid(blocks: Sequence[list[str]], titles: Sequence[str], columns: int = 4) -> str:
    """Lay out rendered kernels side by side, ``columns`` per row, each with a title line."""
    out = []
    for start in range(0, len(blocks), columns):
        row = blocks[start : start + columns]
        heads = titles[start : start + columns]
        w = max(len(line) for b in row for line in b)
        h = max(len(b) for b in row)
        out.append("   ".join(t[:w].ljust(w) for t in heads))
        for i in range(h):
            out.append("   ".join((b[i] if i < len(b) else "").ljust(w) for b in row))
        out.append("")
    return "\n".join(out)


def save_kernel_grid(
    path: str | os.PathLike[str],
    kernels: Sequence[np.ndarray],
    titles: Sequence[str],
    paths: Sequence[np.ndarray | None] | None = None,
    columns: int = 4,
) -> Path:
    """Save a PNG grid of kernels (``magma`` colour map) with their trajectories drawn over them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    n = len(kernels)
    cols = max(1, min(columns, n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, k in enumerate(kernels):
        ax = axes.ravel()[i]
        ax.imshow(k, cmap="magma", interpolation="nearest")
        p = paths[i] if paths is not None else None
        if p is not None:
            ax.plot(p[:, 0], p[:, 1], color="cyan", linewidth=0.6, alpha=0.8)
            ax.plot(p[0, 0], p[0, 1], "o", color="lime", markersize=3)
        c = (k.shape[0] - 1) / 2
        ax.plot(c, c, "+", color="white", markersize=6)
        ax.set_title(titles[i], fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Write a matplotlib figure as PNG atomically (temporary file, then rename) and close it."""
    import io

    import matplotlib.pyplot as plt

    from blurkit.io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    out = Path(path)
    atomic_write_bytes(out, buf.getvalue())
    return out
