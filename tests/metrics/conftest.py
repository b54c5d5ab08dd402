from pathlib import Path

import numpy as np
import pytest

from blurkit.io import read_image, to_uint

SHARED = Path(__file__).parents[2].parent / "shared" / "data"
GOPRO = SHARED / "gopro_frames" / "GOPR0477_11_00"


def smooth_image(rng: np.random.Generator, h: int = 48, w: int = 64) -> np.ndarray:
    """A uint8 RGB image with structure at several scales (more realistic than white noise)."""
    from scipy.ndimage import gaussian_filter

    base = rng.normal(size=(h, w, 3))
    img = gaussian_filter(base, sigma=(3, 3, 0)) * 4 + gaussian_filter(base, sigma=(0.7, 0.7, 0))
    img = (img - img.min()) / (img.max() - img.min())
    return to_uint(img)


@pytest.fixture
def image():
    """Factory ``image(rng, h, w)`` for structured uint8 RGB test images."""
    return smooth_image


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def real_pair() -> tuple[np.ndarray, np.ndarray]:
    """A sharp GoPro frame and a real motion-blurred image (7 frames averaged in linear light), cropped."""
    if not GOPRO.is_dir():
        pytest.skip(f"real data not available at {GOPRO}")
    frames = [read_image(GOPRO / f"{k:06d}.png")[200:456, 300:700] for k in range(1, 8)]
    lin = np.mean([np.where(f <= 0.04045, f / 12.92, ((f + 0.055) / 1.055) ** 2.4) for f in frames], axis=0)
    blur = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return to_uint(blur), to_uint(frames[3])
