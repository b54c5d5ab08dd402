"""JobOptions: one validated set of job options for ``make`` and ``average``, and the PNG level end to end."""

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from blurkit.cli import app
from blurkit.io import PNG_LEVEL, PNG_MODE, encode_image
from blurkit.synth import JobOptions, average_frames, make_dataset, read_manifest, regenerate_blurred
from blurkit.synth.manifest import LEGACY_PNG_LEVEL

runner = CliRunner()
SMALL = {"length": (3.0, 8.0)}


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"workers": 0}, "workers: must be in 1..1024"),
        ({"fmt": "gif"}, "format: expected one of png, jpg, webp, tif"),
        ({"quality": 0}, "quality: must be in 1..100"),
        ({"png_level": 10}, "png_level: must be an integer in 0..9"),
        ({"png_level": 1.5}, "png_level: must be an integer in 0..9"),
        ({"png_level": True}, "png_level: must be an integer in 0..9"),
        ({"resume": True, "overwrite": True}, "resume/overwrite: choose one"),
        ({"limit": -1}, "limit: must be >= 0"),
        ({"shard": "4/4"}, "shard: expected 0 <= I < N"),
        ({"backend": "slurm"}, "backend: expected one of local, dask"),
        ({"scheduler": "tcp://x:1"}, "scheduler: .* without backend='dask'"),
        ({"max_pixels": -1}, "max_pixels: must be >= 0"),
    ],
)
def test_bad_options_are_refused_when_built(changes, match):
    with pytest.raises(ValueError, match=match):
        JobOptions(**changes)
    with pytest.raises(ValueError, match=match):
        JobOptions.build(None, **changes)


def test_build_applies_changes_and_names_unknown_keywords():
    base = JobOptions(workers=2, png_level=1)
    opts = JobOptions.build(base, shard="1/3", progress=False)
    assert (opts.workers, opts.png_level, opts.shard, opts.shard_pair, opts.progress) == (2, 1, (1, 3), (1, 3), False)
    assert base.shard is None
    with pytest.raises(TypeError, match="wrokers: not a job option"):
        JobOptions.build(base, wrokers=2)
    with pytest.raises(TypeError, match="wrokers"):
        make_dataset("nowhere", "out", wrokers=2)


def test_recorded_settings_name_the_png_level_only_when_it_is_not_the_old_one():
    assert JobOptions().png_level == PNG_LEVEL
    assert JobOptions(png_level=LEGACY_PNG_LEVEL, png_mode="zlib").settings() == {"format": "png", "quality": 95}
    assert JobOptions(png_level=1, png_mode="zlib").settings() == {"format": "png", "quality": 95, "png_level": 1}
    assert JobOptions(fmt="jpg", png_level=1).settings() == {"format": "jpg", "quality": 95}


def test_recorded_settings_name_the_png_mode_only_when_it_is_not_the_old_one():
    assert JobOptions().png_mode == PNG_MODE == "rle"
    assert JobOptions(png_level=LEGACY_PNG_LEVEL).settings() == {"format": "png", "quality": 95, "png_mode": "rle"}
    assert JobOptions(fmt="webp").settings() == {"format": "webp", "quality": 95}
    with pytest.raises(ValueError, match="png_mode: expected one of rle, zlib, got 'fast'"):
        JobOptions(png_mode="fast")


def test_png_level_changes_bytes_not_pixels_and_is_recorded(sharp_folder, tmp_path):
    a, b = tmp_path / "l3", tmp_path / "l9"
    make_dataset(sharp_folder, a, seed=2, overrides=SMALL, progress=False, png_level=3, png_mode="zlib")
    make_dataset(sharp_folder, b, seed=2, overrides=SMALL, options=JobOptions(png_level=9, png_mode="zlib", progress=False))
    assert "png_level" not in json.loads((a / "blurkit.json").read_text())
    assert json.loads((b / "blurkit.json").read_text())["png_level"] == 9
    da, db = read_manifest(a), read_manifest(b)
    assert da["kernel_sha256"].tolist() == db["kernel_sha256"].tolist()
    for col in ("blur", "sharp"):
        for ra, rb in zip(da[col], db[col], strict=True):
            pa, pb = cv2.imread(str(a / ra), cv2.IMREAD_UNCHANGED), cv2.imread(str(b / rb), cv2.IMREAD_UNCHANGED)
            assert np.array_equal(pa, pb), ra
    assert sum((b / r).stat().st_size for r in db["blur"]) < sum((a / r).stat().st_size for r in da["blur"])
    key = db["key"].iloc[0]
    again = encode_image(regenerate_blurred(b, key), ".png", png_level=9, png_mode="zlib")
    assert again == (b / db.set_index("key").loc[key, "blur"]).read_bytes()


def test_png_mode_changes_bytes_not_pixels_and_is_recorded(sharp_folder, tmp_path):
    a, b = tmp_path / "zlib", tmp_path / "rle"
    make_dataset(sharp_folder, a, seed=2, overrides=SMALL, progress=False, png_mode="zlib")
    make_dataset(sharp_folder, b, seed=2, overrides=SMALL, progress=False)
    assert "png_mode" not in json.loads((a / "blurkit.json").read_text())
    assert json.loads((b / "blurkit.json").read_text())["png_mode"] == "rle"
    da, db = read_manifest(a), read_manifest(b)
    assert da["blur_sha256"].tolist() != db["blur_sha256"].tolist()
    for ra, rb in zip(da["blur"], db["blur"], strict=True):
        pa, pb = cv2.imread(str(a / ra), cv2.IMREAD_UNCHANGED), cv2.imread(str(b / rb), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(pa, pb), ra
    key = db["key"].iloc[0]
    assert encode_image(regenerate_blurred(b, key), ".png") == (b / db.set_index("key").loc[key, "blur"]).read_bytes()


def test_resume_of_a_folder_written_before_png_modes_names_the_flag(sharp_folder, tmp_path):
    out = tmp_path / "pairs"
    make_dataset(sharp_folder, out, seed=1, overrides=SMALL, progress=False, limit=2, png_mode="zlib")
    with pytest.raises(ValueError, match='png_mode: folder "zlib", this run "rle" .*add --png-mode zlib'):
        make_dataset(sharp_folder, out, seed=1, overrides=SMALL, progress=False, resume=True)
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--seed", "1", "--length", "3,8",
                            "--resume", "--png-mode", "zlib", "--quiet"])
    assert r.exit_code == 0, r.output
    assert len(read_manifest(out)) == 5


def test_resume_with_another_png_level_is_refused(sharp_folder, tmp_path):
    out = tmp_path / "pairs"
    make_dataset(sharp_folder, out, seed=1, overrides=SMALL, progress=False, limit=2, png_level=LEGACY_PNG_LEVEL)
    with pytest.raises(ValueError, match="different settings \\(png_level: folder 3, this run 6 .*add --png-level 3\\)"):
        make_dataset(sharp_folder, out, seed=1, overrides=SMALL, progress=False, resume=True, png_level=6)
    res = make_dataset(sharp_folder, out, seed=1, overrides=SMALL, progress=False, resume=True,
                       png_level=LEGACY_PNG_LEVEL)
    assert res.ok and res.skipped == 2 and res.written == 3
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--seed", "1", "--length", "3,8",
                            "--resume", "--png-level", "6", "--quiet"])
    assert r.exit_code == 2 and "png_level" in r.output


def test_resume_refusal_names_the_flags_that_give_back_the_folders_chain(sharp_folder, tmp_path):
    out = tmp_path / "pairs"
    old = {**SMALL, "chain": 1}
    make_dataset(sharp_folder, out, seed=1, overrides=old, progress=False, limit=2, png_level=LEGACY_PNG_LEVEL)
    with pytest.raises(ValueError, match="config.chain: folder 1, this run 2.*add --set chain=1 --png-level 3"):
        make_dataset(sharp_folder, out, seed=1, overrides=SMALL, progress=False, resume=True)
    res = make_dataset(sharp_folder, out, seed=1, overrides=old, progress=False, resume=True,
                       png_level=LEGACY_PNG_LEVEL)
    assert res.ok and res.skipped == 2 and res.written == 3


def test_cli_png_level_for_make_and_average(sharp_folder, tmp_path):
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(tmp_path / "m"), "--length", "3,8",
                            "--png-level", "0", "--limit", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "m" / "blurkit.json").read_text())["png_level"] == 0
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(tmp_path / "bad"), "--png-level", "10"])
    assert r.exit_code == 2 and r.output.startswith("error: png_level") and not (tmp_path / "bad").exists()
    frames = tmp_path / "frames" / "seq"
    frames.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        assert cv2.imwrite(str(frames / f"{i:03d}.png"), (rng.random((16, 20, 3)) * 255).astype(np.uint8))
    r = runner.invoke(app, ["average", "--src", str(tmp_path / "frames"), "--out", str(tmp_path / "a"), "--window", "3",
                            "--png-level", "9", "--quiet"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "a" / "blurkit.json").read_text())["png_level"] == 9
    res = average_frames(tmp_path / "frames", tmp_path / "a", window=3, progress=False, resume=True, png_level=9)
    assert res.ok and res.skipped == 1 and res.written == 0
    with pytest.raises(ValueError, match="png_level"):
        average_frames(tmp_path / "frames", tmp_path / "a", window=3, progress=False, resume=True, png_level=1)
