"""Sample photos that ship with installed dependencies (scikit-image), for demos and smoke tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from blurkit.io import write_image

#: scikit-image's bundled photographs (no download needed).
SAMPLE_NAMES = ("astronaut", "camera", "chelsea", "coffee", "rocket", "coins", "clock")


def write_samples(out: str | os.PathLike[str], names: tuple[str, ...] = SAMPLE_NAMES) -> list[Path]:
    """Write the bundled sample photos as PNG files into ``out``; existing files are kept.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     [p.name for p in write_samples(d, ("camera",))]
    ['camera.png']
    """
    import skimage.data

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        loader = getattr(skimage.data, name, None)
        if loader is None:
            raise ValueError(f"names: scikit-image has no sample image {name!r}")
        path = folder / f"{name}.png"
        if not path.exists():
            img = np.asarray(loader())
            if img.ndim == 2:
                img = np.repeat(img[:, :, None], 3, axis=2)
            write_image(path, img[:, :, :3])
        written.append(path)
    return written
