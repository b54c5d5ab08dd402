"""Bad sources fail alone (errors.csv + one stderr line, exit 1); bad outputs stop the run cleanly."""

import errno
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from blurkit.cli import app
from blurkit.synth import OutputError, make_dataset, read_manifest
from blurkit.synth.inspection import verify_pairs

runner = CliRunner()
SMALL = {"length": (3.0, 8.0)}


def _rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def rng():
    return np.random.default_rng(3)


def _photo(rng, h=40, w=56):
    base = rng.random((h // 4, w // 4, 3))
    return (np.kron(base, np.ones((4, 4, 1))) * 255).astype(np.uint8)


def test_broken_files_fail_alone_with_one_line_each(tmp_path, rng):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(_photo(rng)).save(src / "good.png")
    Image.fromarray(_photo(rng)).save(src / "cut.png")
    Image.fromarray(_photo(rng)).save(src / "cut2.jpg", quality=90)
    for name in ("cut.png", "cut2.jpg"):
        data = (src / name).read_bytes()
        (src / name).write_bytes(data[: len(data) * 2 // 3])
    (src / "text.png").write_text("hello, not a picture")
    (src / "empty.jpg").write_bytes(b"")
    Image.fromarray(_photo(rng, 8, 8)).save(src / "tiny.png")
    out = tmp_path / "pairs"
    r = runner.invoke(app, ["make", "--src", str(src), "--out", str(out), "--length", "20", "--quiet"])
    assert r.exit_code == 1
    failed_lines = [line for line in r.output.splitlines() if line.startswith("failed: ")]
    bad = ["cut.png", "cut2.jpg", "empty.jpg", "text.png", "tiny.png"]
    assert sorted(line.split(":")[1].strip() for line in failed_lines) == bad
    reasons = dict(pd.read_csv(out / "errors.csv").itertuples(index=False, name=None))
    assert sorted(reasons) == bad
    assert "decode" in reasons["cut.png"] and "decode" in reasons["cut2.jpg"] and "decode" in reasons["text.png"]
    assert "empty" in reasons["empty.jpg"]
    assert "kernel" in reasons["tiny.png"]
    assert all(str(src) in reasons[n] for n in ("cut.png", "empty.jpg", "text.png"))
    assert read_manifest(out)["source"].tolist() == ["good.png"]
    assert verify_pairs(out) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path, rng):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(_photo(rng)).save(src / "ok.png")
    Image.fromarray(_photo(rng)).save(src / "locked.png")
    os.chmod(src / "locked.png", 0)
    try:
        res = make_dataset(src, tmp_path / "o", overrides=SMALL, progress=False)
    finally:
        os.chmod(src / "locked.png", 0o644)
    assert res.written == 1 and [s for s, _ in res.errors] == ["locked.png"]
    assert "ermission" in res.errors[0][1]


def test_unusual_but_valid_images_make_pairs(tmp_path, rng):
    src = tmp_path / "src dir ü"
    src.mkdir()
    rgb = _photo(rng)
    Image.fromarray(rgb[:, :, 0]).save(src / "gray.png")
    sixteen = rgb.astype(np.uint16) * 257
    import cv2

    cv2.imencode(".png", sixteen[:, :, ::-1])[1].tofile(src / "sixteen bit.png")
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 80, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(src / "alpha.png")
    Image.fromarray(rgb).convert("CMYK").save(src / "cmyk.jpg", quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    Image.fromarray(rgb).save(src / "rotated 日本.jpg", quality=95, exif=exif)
    out = tmp_path / "pairs"
    res = make_dataset(src, out, overrides=SMALL, progress=False)
    assert res.ok and res.written == 5, res.errors
    df = read_manifest(out).set_index("source")
    np.testing.assert_array_equal(_rgb(out / df.loc["gray.png", "sharp"]), np.repeat(rgb[:, :, :1], 3, axis=2))
    np.testing.assert_array_equal(_rgb(out / df.loc["sixteen bit.png", "sharp"]), rgb)
    np.testing.assert_array_equal(_rgb(out / df.loc["alpha.png", "sharp"]), rgb)  # alpha dropped, not blended
    cmyk = _rgb(out / df.loc["cmyk.jpg", "sharp"]).astype(int)
    assert np.abs(cmyk - _rgb(src / "cmyk.jpg").astype(int)).max() <= 2
    rot = df.loc["rotated 日本.jpg"]
    assert (rot["height"], rot["width"]) == (56, 40)  # display orientation
    from PIL import ImageOps

    shown = np.asarray(ImageOps.exif_transpose(Image.open(src / "rotated 日本.jpg")).convert("RGB")).astype(int)
    assert np.abs(_rgb(out / rot["sharp"]).astype(int) - shown).max() <= 2
    assert _rgb(out / rot["blur"]).shape == (56, 40, 3)


def test_too_many_pixels_is_a_clear_error(tmp_path, rng):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(_photo(rng, 40, 56)).save(src / "small.png")
    Image.fromarray(_photo(rng, 120, 160)).save(src / "big.png")
    res = make_dataset(src, tmp_path / "o", overrides=SMALL, max_pixels=10_000, progress=False)
    assert [s for s, _ in res.errors] == ["big.png"]
    assert "too large" in res.errors[0][1] and "160x120" in res.errors[0][1] and "--max-pixels" in res.errors[0][1]
    res = make_dataset(src, tmp_path / "o2", overrides=SMALL, max_pixels=0, progress=False)
    assert res.ok and res.written == 2
    with pytest.raises(ValueError, match="max_pixels"):
        make_dataset(src, tmp_path / "o3", max_pixels=-1, progress=False)


def test_disk_full_stops_cleanly_and_resume_finishes(sharp_folder, tmp_path, monkeypatch):
    ref, out = tmp_path / "ref", tmp_path / "out"
    make_dataset(sharp_folder, ref, seed=6, overrides=SMALL, progress=False)
    real_replace = os.replace
    writes = {"n": 0}

    def full_disk(a, b, *args, **kwargs):
        if str(b).startswith(str(out)) and os.path.basename(os.path.dirname(str(b))) != "out":
            writes["n"] += 1
            if writes["n"] > 9:  # two pairs (4 files each) and one file of the third
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(a, b, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OutputError, match="no space left on device.*--resume"):
        make_dataset(sharp_folder, out, seed=6, overrides=SMALL, progress=False)
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--seed", "6",
                            "--length", "3,8", "--resume", "--quiet"])
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "no space left on device" in r.output
    monkeypatch.undo()
    files = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.endswith(".tmp")]
    metas = {p.relative_to(out / "meta").with_suffix("").as_posix() for p in (out / "meta").rglob("*.json")}
    # 9 files fit: two complete pairs one after the other, one or two when two threads write pairs at once
    assert 1 <= len(metas) <= 2
    for p in files:  # every pair file belongs to a complete pair: the failed pairs left nothing behind
        rel = p.relative_to(out)
        if rel.parts[0] in ("blur", "sharp", "kernels"):
            assert Path_stem(rel) in metas, rel
    res = make_dataset(sharp_folder, out, seed=6, overrides=SMALL, resume=True, progress=False)
    assert res.ok and res.skipped == len(metas) and res.written == 5 - len(metas)
    assert _tree(out) == _tree(ref)


def Path_stem(rel):
    return rel.relative_to(rel.parts[0]).with_suffix("").as_posix()


def test_read_only_output_folder(sharp_folder, tmp_path, monkeypatch):
    out = tmp_path / "ro"
    out.mkdir()

    def read_only(a, b, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "replace", read_only)
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--quiet"])
    monkeypatch.undo()
    assert r.exit_code == 1 and "read-only file system" in r.output and str(out) in r.output
    assert not [p for p in out.rglob("*") if p.is_file()]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes whatever the mode")
def test_read_only_output_folder_by_permissions(sharp_folder, tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    os.chmod(out, 0o555)
    try:
        r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--quiet"])
    finally:
        os.chmod(out, 0o755)
    assert r.exit_code == 1 and "permission denied" in r.output
