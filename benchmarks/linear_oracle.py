"""A ceiling for restoring real blurry/sharp pairs: the best per-tile linear filter, fitted with the
sharp frame known (:func:`local_linear_oracle`). ``python -m benchmarks.sim2real`` scores it beside
every model as the row ``oracle_linear``."""

from __future__ import annotations

import numpy as np

ORACLE_SIZE, ORACLE_TILE = 15, 160  # default filter side and tile side, px


def local_linear_oracle(blurred: np.ndarray, sharp: np.ndarray, size: int = ORACLE_SIZE,
                        tile: int = ORACLE_TILE) -> np.ndarray:
    """The best linear restoration of ``blurred`` that knows ``sharp``: a ceiling, not a deblurrer.

    The image is cut into ``tile``×``tile`` squares; in each, one ``size``×``size`` filter and an
    offset (shared by the colour channels) are fitted by least squares to map the blurred pixels onto
    the sharp ones (on every second row and column; 226 unknowns against several thousand samples, so
    the fit's own overfitting is small), then applied to the whole square. A deblurrer that applies
    one shift-variant linear filter per region cannot do better than this on average, whatever it
    learned; nonlinear networks can, but its gain tells what the real blur leaves to restore.

    Args:
        blurred, sharp: (H, W, C) float images of one size, values in [0, 1].
        size: odd filter side in px (default 15).
        tile: square side in px (default 160).

    Returns:
        (H, W, C) float64, not clipped.
    """
    import cv2
    from numpy.lib.stride_tricks import sliding_window_view

    if blurred.shape != sharp.shape or blurred.ndim != 3:
        raise ValueError(f"local_linear_oracle: need two (H, W, C) images of one size, got {blurred.shape}, {sharp.shape}")
    if size < 1 or size % 2 == 0 or tile < 2:
        raise ValueError(f"local_linear_oracle: need an odd size >= 1 and tile >= 2, got {size}, {tile}")
    b = np.asarray(blurred, dtype=np.float64)
    s = np.asarray(sharp, dtype=np.float64)
    r = size // 2
    padded = cv2.copyMakeBorder(b, r, r, r, r, cv2.BORDER_REFLECT_101)
    if padded.ndim == 2:
        padded = padded[..., None]
    patches = sliding_window_view(padded, (size, size), axis=(0, 1))  # (H, W, C, size, size) view
    out = np.empty_like(b)
    h, w = b.shape[:2]
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            a = patches[y0:y1:2, x0:x1:2].reshape(-1, size * size)
            a = np.concatenate([a, np.ones((len(a), 1))], axis=1)
            target = s[y0:y1:2, x0:x1:2].reshape(-1)
            gram = a.T @ a
            gram[np.diag_indices_from(gram)] += 1e-8 * np.trace(gram) / len(gram)
            coef = np.linalg.solve(gram, a.T @ target)
            kernel = coef[:-1].reshape(size, size)
            region = padded[y0 : y1 + 2 * r, x0 : x1 + 2 * r]
            for c in range(b.shape[2]):
                filtered = cv2.filter2D(np.ascontiguousarray(region[..., c]), cv2.CV_64F, kernel,
                                        borderType=cv2.BORDER_REFLECT_101)
                out[y0:y1, x0:x1, c] = filtered[r : r + y1 - y0, r : r + x1 - x0] + coef[-1]
    return out
