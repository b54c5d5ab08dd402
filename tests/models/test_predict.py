"""``python -m models.predict``: any size, batching, no silent overwrites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import BSDS_VAL, randomize, smooth_image

from blurkit.io import read_image, write_image
from models.deblurgan import Generator, GeneratorConfig, save_generator
from models.predict import main


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "gen.pt"
    save_generator(randomize(Generator(GeneratorConfig(base_channels=4, n_blocks=1)), std=0.05), path)
    return path


def _source_images(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    rng = np.random.default_rng(0)
    write_image(src / "odd.png", smooth_image(rng, 37, 53))
    write_image(src / "sub" / "b.jpg", smooth_image(rng, 37, 53))
    write_image(src / "c.png", smooth_image(rng, 24, 20))
    return src


def test_predict_cli_odd_sizes_batch_and_overwrite(
    tmp_path: Path, ckpt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = _source_images(tmp_path), tmp_path / "out"
    assert main(["--ckpt", str(ckpt), "--src", str(src), "--out", str(out), "--batch", "2"]) == 0
    assert read_image(out / "odd.png").shape == (37, 53, 3)
    assert read_image(out / "sub" / "b.png").shape == (37, 53, 3)  # lossy input → PNG output
    assert read_image(out / "c.png").shape == (24, 20, 3)
    assert "wrote 3" in capsys.readouterr().out

    before = (out / "odd.png").read_bytes()
    (out / "odd.png").write_bytes(b"keep me")
    assert main(["--ckpt", str(ckpt), "--src", str(src), "--out", str(out)]) == 0
    assert (out / "odd.png").read_bytes() == b"keep me"
    assert "skipped 3" in capsys.readouterr().out
    assert main(["--ckpt", str(ckpt), "--src", str(src), "--out", str(out), "--overwrite"]) == 0
    assert (out / "odd.png").read_bytes() == before  # deterministic, same bytes as the first run


def test_predict_batch_equals_single(tmp_path: Path, ckpt: Path) -> None:
    src = _source_images(tmp_path)
    main(["--ckpt", str(ckpt), "--src", str(src), "--out", str(tmp_path / "a"), "--batch", "1"])
    main(["--ckpt", str(ckpt), "--src", str(src), "--out", str(tmp_path / "b"), "--batch", "3"])
    for name in ("odd.png", "sub/b.png", "c.png"):
        a, b = read_image(tmp_path / "a" / name), read_image(tmp_path / "b" / name)
        assert np.abs(a - b).max() <= 1 / 255


@pytest.mark.skipif(not BSDS_VAL.is_dir(), reason=f"{BSDS_VAL} not present (offline BSDS500 photos)")
def test_predict_real_photo_tiled(tmp_path: Path, ckpt: Path) -> None:
    src = tmp_path / "photo"
    src.mkdir()
    photo = sorted(BSDS_VAL.glob("*.jpg"))[0]
    (src / photo.name).write_bytes(photo.read_bytes())
    out = tmp_path / "out"
    assert main(["--ckpt", str(ckpt), "--src", str(src), "--out", str(out), "--tile", "256"]) == 0
    restored = read_image(out / (photo.stem + ".png"))
    assert restored.shape == read_image(photo).shape
    assert 0.05 < restored.mean() < 0.95


def test_predict_classical_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _source_images(tmp_path)
    assert main(["--ckpt", "unsharp", "--src", str(src), "--out", str(tmp_path / "u")]) == 0
    assert main(["--ckpt", "wiener", "--src", str(src), "--out", str(tmp_path / "w")]) == 2
    assert "kernel" in capsys.readouterr().err
    assert main(["--ckpt", str(tmp_path / "none.pt"), "--src", str(src), "--out", str(tmp_path / "x")]) == 2
    assert "none.pt" in capsys.readouterr().err
    assert main(["--ckpt", "identity", "--src", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    assert "missing" in capsys.readouterr().err
