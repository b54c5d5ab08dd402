from pathlib import Path

import numpy as np
import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The offline data folder beside the repository (skips the test when it is absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request) -> str:
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    return request.param


@pytest.fixture
def sharp_folder(tmp_path) -> Path:
    """A folder of small sharp images: nested folders, a space and a non-ASCII name, gray and 16-bit."""
    from blurkit.io import write_image

    rng = np.random.default_rng(0)
    root = tmp_path / "sharp src"
    for rel, shape in [
        ("a.png", (40, 56, 3)),
        ("sub/b.jpg", (48, 40, 3)),
        ("sub/deeper/ç é.png", (36, 36, 3)),
    ]:
        img = rng.random(shape).astype(np.float32)
        img = (img + np.linspace(0, 1, shape[1])[None, :, None]) / 2  # some structure
        write_image(root / rel, img, quality=98)
    gray = (rng.random((32, 44)) * 255).astype(np.uint8)
    write_image(root / "gray.png", gray)
    sixteen = (rng.random((30, 30, 3)) * 65535).astype(np.uint16)
    write_image(root / "sixteen.png", sixteen)
    return root
