"""``make --layout``: the default layout is unchanged; gopro and basicsr folders pair up the way trainers read them."""

import glob
import os

import pytest
from typer.testing import CliRunner

from blurkit.cli import app
from blurkit.synth import make_dataset, read_manifest

runner = CliRunner()
SMALL = {"length": (3.0, 8.0)}


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_default_layout_is_the_historical_one(sharp_folder, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    make_dataset(sharp_folder, a, seed=2, overrides=SMALL, progress=False)
    make_dataset(sharp_folder, b, seed=2, overrides=SMALL, progress=False, layout="default")
    assert _files(a) == _files(b)
    assert "blur/sub/deeper/ç é.png" in _files(a)
    for rel in _files(a):
        if rel.split("/")[0] in ("blur", "sharp", "kernels"):
            assert (a / rel).read_bytes() == (b / rel).read_bytes()


def test_gopro_layout_scenes_numbers_and_deblurgan_v2_globs(sharp_folder, tmp_path):
    out = tmp_path / "g"
    res = make_dataset(sharp_folder, out, seed=2, overrides=SMALL, progress=False, layout="gopro")
    assert res.ok and res.written == 5
    df = read_manifest(out).set_index("source")
    # scene = first folder of the relative name; sources in the root go to the scene "scene"
    assert df.loc["sub/b.jpg", "blur"] == "sub/blur/000000.png"
    assert df.loc["sub/deeper/ç é.png", "sharp"] == "sub/sharp/000001.png"
    assert sorted(df.loc[["a.png", "gray.png", "sixteen.png"], "blur"]) == [
        "scene/blur/000000.png", "scene/blur/000001.png", "scene/blur/000002.png",
    ]
    # DeblurGAN-v2 pairs files_a and files_b by sorted order: the pairs must line up
    files_a = sorted(glob.glob(str(out / "*" / "blur" / "*.png")))
    files_b = sorted(glob.glob(str(out / "*" / "sharp" / "*.png")))
    assert len(files_a) == len(files_b) == 5
    assert [a.replace(f"{os.sep}blur{os.sep}", f"{os.sep}sharp{os.sep}") for a in files_a] == files_b
    blur_to_sharp = dict(zip(df["blur"], df["sharp"], strict=True))
    for a, b in zip(files_a, files_b, strict=True):
        assert blur_to_sharp[os.path.relpath(a, out).replace(os.sep, "/")] == os.path.relpath(b, out).replace(os.sep, "/")


def test_basicsr_layout_is_flat_and_paired_by_name(sharp_folder, tmp_path):
    out = tmp_path / "bs"
    res = make_dataset(sharp_folder, out, seed=2, overrides=SMALL, progress=False, layout="basicsr", variants=2)
    assert res.ok and res.written == 10
    gt, lq = sorted(os.listdir(out / "gt")), sorted(os.listdir(out / "lq"))
    assert gt == lq and len(gt) == 10  # BasicSR's paired_paths_from_folder matches names, non-recursively
    assert "sub__deeper__ç é_v1.png" in gt
    assert all((out / "gt" / n).is_file() for n in gt)


def test_layouts_collide_up_front(tmp_path):
    import numpy as np

    from blurkit.io import write_image

    src = tmp_path / "s"
    write_image(src / "a__b.png", np.zeros((32, 32, 3), np.uint8))
    write_image(src / "a" / "b.png", np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="same pair name"):
        make_dataset(src, tmp_path / "o", layout="basicsr", progress=False)
    assert make_dataset(src, tmp_path / "o2", overrides=SMALL, progress=False).ok  # fine in the default layout


def test_cli_layout_and_dry_run(sharp_folder, tmp_path):
    out = tmp_path / "g"
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--layout", "gopro", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert str(out / "scene" / "blur" / "000000.png") in r.output
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--layout", "gopro",
                            "--length", "3,8", "--quiet"])
    assert r.exit_code == 0 and "5 pair(s) written" in r.output
    r = runner.invoke(app, ["verify", str(out)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--layout", "basicsr",
                            "--length", "3,8", "--resume", "--quiet"])
    assert r.exit_code == 2 and "layout" in r.output
