import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from blurkit.cli import app
from blurkit.io import write_image
from blurkit.synth import average_frames, read_manifest
from blurkit.synth.average import average_linear, parse_window, plan_windows

runner = CliRunner()


def _srgb_to_linear(x):
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x):
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.maximum(x, 0.0031308) ** (1 / 2.4) - 0.055)


def _load(path):
    return np.asarray(Image.open(path).convert("RGB"))


def _moving_square(root, frames=9, step=3, size=(32, 48)):
    """A bright square moving right over a textured background, one PNG per frame."""
    rng = np.random.default_rng(1)
    bg = (rng.random((*size, 3)) * 120 + 40).astype(np.uint8)
    for t in range(frames):
        img = bg.copy()
        x = 4 + step * t
        img[10:20, x : x + 10] = (250, 230, 60)
        write_image(root / f"{t:06d}.png", img)
    return root


@pytest.fixture
def sequences(tmp_path):
    root = tmp_path / "frames"
    _moving_square(root / "seq a", frames=9)
    _moving_square(root / "seqB", frames=7, step=2)
    return root


def _expected_mean(frame_paths, srgb=True):
    stack = np.stack([_load(p).astype(np.float64) / 255 for p in frame_paths])
    if not srgb:
        return np.clip(np.rint(stack.mean(0) * 255), 0, 255)
    return np.clip(np.rint(_linear_to_srgb(_srgb_to_linear(stack).mean(0)) * 255), 0, 255)


def test_average_is_the_linear_mean_and_sharp_is_the_middle_frame(sequences, tmp_path):
    out = tmp_path / "pairs"
    res = average_frames(sequences, out, window=3, progress=False)
    assert res.ok and res.written == 3 + 2  # 9 frames -> 3 windows, 7 frames -> 2 windows (no overlap)
    df = read_manifest(out)
    assert (df["kernel_source"] == "frames").all() and (df["window"] == 3).all()
    assert set(df["key"]) == {"seq a/000001.png", "seq a/000004.png", "seq a/000007.png",
                              "seqB/000001.png", "seqB/000004.png"}
    for _, row in df.iterrows():
        frames = json.loads(row["frames"])
        assert len(frames) == 3 and frames[1] == row["key"]
        assert row["frame_first"] == frames[0] and row["frame_last"] == frames[-1]
        blur = _load(out / row["blur"]).astype(np.float64)
        expected = _expected_mean([sequences / f for f in frames])
        assert np.abs(blur - expected).max() <= 1 and (blur == expected).mean() > 0.999
        # the linear mean is not the display mean: the moving bright square proves it
        assert np.abs(blur - _expected_mean([sequences / f for f in frames], srgb=False)).max() > 2
        np.testing.assert_array_equal(_load(out / row["sharp"]), _load(sequences / row["key"]))
        assert not np.array_equal(blur, _load(out / row["sharp"]))
    assert not (out / "kernels").exists()


def test_linear_response_averages_display_values(sequences, tmp_path):
    out = tmp_path / "pairs"
    average_frames(sequences, out, window=5, stride=2, response="linear", progress=False)
    df = read_manifest(out)
    # 9 frames, slots of 5 every 2 frames -> starts 0, 2, 4; 7 frames -> 0, 2
    assert len(df) == 5
    for _, row in df.iterrows():
        frames = json.loads(row["frames"])
        expected = _expected_mean([sequences / f for f in frames], srgb=False)
        assert np.abs(_load(out / row["blur"]).astype(np.float64) - expected).max() <= 1


def test_window_range_is_drawn_per_pair_and_reproducible(sequences, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    average_frames(sequences, a, window="1,5", seed=3, progress=False)
    average_frames(sequences, b, window=(1, 5), seed=3, workers=2, progress=False)
    average_frames(sequences, c, window="1,5", seed=3, limit=1, progress=False)
    da, db = read_manifest(a), read_manifest(b)
    pd.testing.assert_frame_equal(da, db)
    assert da["window"].between(1, 5).all()
    for _, row in da.iterrows():
        frames = json.loads(row["frames"])
        assert len(frames) == row["window"] and frames[row["window"] // 2] == row["key"]
        assert (a / row["blur"]).read_bytes() == (b / row["blur"]).read_bytes()
    first = read_manifest(c).iloc[0]
    assert (c / first["blur"]).read_bytes() == (a / first["blur"]).read_bytes()
    # sizes are drawn, not constant (11 slots would all agree with probability 5**-10)
    items = plan_windows(sequences, 0, (1, 5), stride=1)
    assert len({len(it.frames) for it in items}) > 1


def test_resume_redoes_only_missing_pairs(sequences, tmp_path):
    out = tmp_path / "pairs"
    average_frames(sequences, out, window=3, progress=False)
    before = (out / "blur/seqB/000004.png").read_bytes()
    (out / "meta/seqB/000004.json").unlink()
    with pytest.raises(FileExistsError):
        average_frames(sequences, out, window=3, progress=False)
    with pytest.raises(ValueError, match="window"):
        average_frames(sequences, out, window=5, resume=True, progress=False)
    res = average_frames(sequences, out, window=3, resume=True, progress=False)
    assert res.written == 1 and res.skipped == 4
    assert (out / "blur/seqB/000004.png").read_bytes() == before
    assert len(read_manifest(out)) == 5


def test_mixed_frame_sizes_fail_that_pair_only(sequences, tmp_path):
    write_image(sequences / "seqB" / "000005.png", np.zeros((20, 20, 3), np.uint8))
    out = tmp_path / "pairs"
    res = average_frames(sequences, out, window=3, progress=False)
    assert [s for s, _ in res.errors] == ["seqB/000004.png"]
    assert "differs" in res.errors[0][1]
    assert res.written == 4
    assert pd.read_csv(out / "errors.csv")["source"].tolist() == ["seqB/000004.png"]


def test_bad_windows():
    for bad in ("0", "5,3", "a", (1, 2, 3)):
        with pytest.raises(ValueError, match="window"):
            parse_window(bad)
    with pytest.raises(ValueError, match="response"):
        average_linear([np.zeros((2, 2, 3))], "sRGB")


def test_cli_average_and_dry_run(sequences, tmp_path):
    out = tmp_path / "pairs"
    r = runner.invoke(app, ["average", "--src", str(sequences), "--out", str(out), "--window", "3", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "5 pair(s) planned" in r.output and "3 frames" in r.output
    assert not out.exists()
    r = runner.invoke(app, ["average", "--src", str(sequences), "--out", str(out), "--window", "3,5", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "2 pair(s) written" in r.output and len(read_manifest(out)) == 2  # slots of 5 frames
    r = runner.invoke(app, ["average", "--src", str(sequences), "--out", str(tmp_path / "x"), "--window", "9,3"])
    assert r.exit_code == 2 and r.output.startswith("error: window")


def test_cli_average_runs_without_torch(sequences, tmp_path):
    """Averaging frames is NumPy work: the command does not pay torch's import (seconds)."""
    code = (
        "import sys; from blurkit.cli import app; "
        "sys.argv = ['blurkit', 'average', '--src', sys.argv[1], '--out', sys.argv[2], '--window', '3', '--quiet']\n"
        "try:\n    app()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'torch' not in sys.modules, 'blurkit average imported torch'"
    )
    out = tmp_path / "pairs"
    r = subprocess.run([sys.executable, "-c", code, str(sequences), str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(read_manifest(out)) == 5


def test_real_gopro_frames(shared_data, tmp_path):
    seq = shared_data / "gopro_frames" / "GOPR0477_11_00"
    if not (seq / "000007.png").is_file():
        pytest.skip(f"{seq} has no frames")
    out = tmp_path / "pairs"
    res = average_frames(str(seq / "00000[1-7].png"), out, window=7, progress=False)
    assert res.ok and res.written == 1
    row = read_manifest(out).iloc[0]
    assert row["key"] == "000004.png" and (row["width"], row["height"]) == (1280, 720)
    frames = [seq / f"{i:06d}.png" for i in range(1, 8)]
    assert json.loads(row["frames"]) == [p.name for p in frames]
    blur = _load(out / row["blur"]).astype(np.float64)
    expected = _expected_mean(frames)
    assert np.abs(blur - expected).max() <= 1
    sharp = _load(out / row["sharp"]).astype(np.float64)
    np.testing.assert_array_equal(sharp, _load(seq / "000004.png"))
    mse = np.mean((blur - sharp) ** 2)
    assert 0 < mse and 10 * np.log10(255**2 / mse) < 45  # real motion: the average differs from the middle frame
