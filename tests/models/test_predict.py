"""``python -m models.predict``: any size, batching, no silent overwrites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import BSDS_VAL, randomize, smooth_image

from blurkit.io import read_image, write_image
from models.archs.deblurgan import Generator, GeneratorConfig
from models.families.deblurgan import save_generator
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


def test_predict_takes_a_file_a_folder_or_a_glob(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _source_images(tmp_path)
    one = tmp_path / "one"
    assert main(["--ckpt", "identity", "--src", str(src / "odd.png"), "--out", str(one)]) == 0
    assert sorted(p.name for p in one.iterdir()) == ["odd.png"]
    assert np.array_equal(read_image(one / "odd.png"), read_image(src / "odd.png"))
    assert "wrote 1" in capsys.readouterr().out

    globbed = tmp_path / "globbed"
    assert main(["--ckpt", "identity", "--src", str(src / "*.png"), "--out", str(globbed)]) == 0
    assert sorted(p.name for p in globbed.iterdir()) == ["c.png", "odd.png"]  # not sub/b.jpg
    rec = tmp_path / "rec"
    assert main(["--ckpt", "identity", "--src", str(src / "**" / "*.jpg"), "--out", str(rec)]) == 0
    assert [p.relative_to(rec).as_posix() for p in rec.rglob("*.png")] == ["b.png"]  # root: the matches' folder

    capsys.readouterr()
    assert main(["--ckpt", "identity", "--src", str(src / "*.tif"), "--out", str(tmp_path / "x")]) == 2
    assert "no image matches" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["--ckpt", "identity", "--src", str(tmp_path / "notes.txt"), "--out", str(tmp_path / "x")]) == 2
    assert "notes.txt: not an image file" in capsys.readouterr().err
    # restoring a file into its own folder would replace it: refused, the file is untouched
    before = (src / "c.png").read_bytes()
    assert main(["--ckpt", "identity", "--src", str(src / "c.png"), "--out", str(src), "--overwrite"]) == 2
    assert "overwrite this input" in capsys.readouterr().err
    assert (src / "c.png").read_bytes() == before


def test_predict_scales_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from models.archs.nafnet import NAFNet, NAFNetConfig
    from models.families.nafnet import save_generator as save_nafnet

    torch.manual_seed(0)
    path = tmp_path / "naf.pt"
    save_nafnet(randomize(NAFNet(NAFNetConfig(width=4, enc_blocks=(1,), middle_blocks=1, dec_blocks=(1,))), std=0.05), path)
    src = _source_images(tmp_path)
    outs = {}
    for scales in ("1", "1,3"):
        out = tmp_path / f"out_{scales}"
        assert main(["--ckpt", str(path), "--src", str(src / "odd.png"), "--out", str(out), "--scales", scales]) == 0
        outs[scales] = read_image(out / "odd.png")
    assert not np.array_equal(outs["1"], outs["1,3"])
    capsys.readouterr()
    assert main(["--ckpt", str(path), "--src", str(src), "--out", str(tmp_path / "x"), "--scales", "0.5"]) == 2
    assert "scales" in capsys.readouterr().err
    assert main(["--ckpt", "unsharp", "--src", str(src), "--out", str(tmp_path / "y"), "--scales", "1,3"]) == 2
    assert "not a network" in capsys.readouterr().err
