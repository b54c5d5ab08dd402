"""The benchmark commands on real motion blur: sharp GoPro frames averaged into pairs (skipped when the
offline data folder is absent)."""

import shutil

from benchmarks import compare as compare_mod
from benchmarks import evaluate as evaluate_mod
from benchmarks import gopro as gopro_mod
from blurkit.io import read_image_uint8
from blurkit.metrics import psnr
from blurkit.synth.average import average_frames


def _real_pairs(shared_data, tmp_path):
    frames = shared_data / "gopro_frames" / "GOPR0477_11_00"
    src = tmp_path / "frames" / "GOPR0477_11_00"
    src.mkdir(parents=True)
    for f in sorted(frames.glob("*.png"))[:14]:
        shutil.copy(f, src / f.name)
    out = tmp_path / "pairs"
    res = average_frames(tmp_path / "frames", out, window=7, progress=False)
    assert res.ok and res.written == 2
    return out


def test_evaluate_compare_and_gopro_on_averaged_frames(shared_data, tmp_path, capsys):
    pairs = _real_pairs(shared_data, tmp_path)
    blurs = sorted((pairs / "blur").rglob("*.png"))
    sharps = sorted((pairs / "sharp").rglob("*.png"))
    expected = [float(psnr(read_image_uint8(b), read_image_uint8(s))) for b, s in zip(blurs, sharps, strict=True)]
    assert all(20 < v < 60 for v in expected)  # real but mild blur, not identical images

    # any paired folders: the blurred images scored as "predictions"
    assert evaluate_mod.main(["--pred", str(pairs / "blur"), "--gt", str(pairs / "sharp"), "--out", str(tmp_path / "ev"), "--quiet"]) == 0
    assert (tmp_path / "ev").is_dir()

    # deblurrers on the pair folder: identity scores exactly the blurred PSNR
    _, summary = compare_mod.compare(pairs, ["identity", "unsharp"])
    by = {s["deblurrer"]: s for s in summary}
    assert abs(by["identity"]["psnr"] - sum(expected) / len(expected)) < 1e-9

    # the GoPro benchmark on the same pairs laid out as GOPRO_Large/test/<scene>/{blur,sharp}
    scene = tmp_path / "GOPRO_Large" / "test" / "GOPR0477_11_00"
    for kind, files in (("blur", blurs), ("sharp", sharps)):
        (scene / kind).mkdir(parents=True)
        for f in files:
            shutil.copy(f, scene / kind / f.name)
    capsys.readouterr()
    assert gopro_mod.main(["--root", str(tmp_path), "--model", "identity", "--out", str(tmp_path / "gp"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"{sum(expected) / len(expected):.2f}" in printed
