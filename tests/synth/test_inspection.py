import numpy as np
from PIL import Image
from typer.testing import CliRunner

from blurkit.cli import app
from blurkit.synth import make_dataset, read_manifest
from blurkit.synth.inspection import _psnr, inspect_pairs, verify_pairs

runner = CliRunner()
SMALL = {"length": (3.0, 8.0)}


def test_inspect_statistics_and_contact_sheet(sharp_folder, tmp_path):
    out = tmp_path / "pairs"
    make_dataset(sharp_folder, out, seed=1, overrides=SMALL, progress=False)
    df = read_manifest(out)
    sheet = tmp_path / "sheet.png"
    report = inspect_pairs(out, sheet=sheet, sample=3, seed=2)
    assert report.count == 5 and report.kinds == {"trajectory": 5}
    assert report.stats["length px"]["min"] == df["length"].min()
    assert report.stats["kernel size"]["max"] == df["kernel_size"].max()
    # PSNR from the images, checked against an independent float64 computation
    expected = []
    for _, row in df.iterrows():
        a = np.asarray(Image.open(out / row["blur"]).convert("RGB"), dtype=np.float64)
        b = np.asarray(Image.open(out / row["sharp"]).convert("RGB"), dtype=np.float64)
        expected.append(10 * np.log10(255**2 / np.mean((a - b) ** 2)))
    assert report.psnr_pairs == 5
    assert np.isclose(report.stats["PSNR dB"]["median"], np.median(expected))
    img = np.asarray(Image.open(sheet))
    assert img.shape[0] > 3 * 160 and img.shape[1] > 160 * 2 and img.std() > 10
    r = runner.invoke(app, ["inspect", str(out), "--out", str(tmp_path / "s2.png"), "--sample", "2"])
    assert r.exit_code == 0, r.output
    assert "5 pair(s)" in r.output and "PSNR dB" in r.output and (tmp_path / "s2.png").is_file()


def test_psnr_helper():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255
    assert np.isclose(_psnr(a, b), 10 * np.log10(255**2 / (255**2 / 48)))
    assert _psnr(a, a) == float("inf")


def test_verify_finds_every_kind_of_problem(sharp_folder, tmp_path):
    out = tmp_path / "pairs"
    make_dataset(sharp_folder, out, seed=1, overrides=SMALL, progress=False)
    assert verify_pairs(out) == []
    r = runner.invoke(app, ["verify", str(out)])
    assert r.exit_code == 0, r.output
    df = read_manifest(out).set_index("source")
    (out / df.loc["a.png", "blur"]).unlink()
    data = (out / df.loc["gray.png", "sharp"]).read_bytes()
    (out / df.loc["gray.png", "sharp"]).write_bytes(data[: len(data) // 2])
    (out / df.loc["sixteen.png", "kernel"]).write_bytes(b"junk")
    Image.new("RGB", (5, 5)).save(out / "blur" / "stray.png")
    (out / "blur" / ".x.png.abc.tmp").write_bytes(b"")
    problems = {(p.path, p.reason.split(" ")[0]) for p in verify_pairs(out)}
    assert (df.loc["a.png", "blur"], "missing") in problems
    assert (df.loc["gray.png", "sharp"], "checksum") in problems
    assert (df.loc["gray.png", "sharp"], "cannot") in problems
    assert (df.loc["sixteen.png", "kernel"], "checksum") in problems
    assert ("blur/stray.png", "not") in problems
    assert ("blur/.x.png.abc.tmp", "temporary") in problems
    r = runner.invoke(app, ["verify", str(out)])
    assert r.exit_code == 1 and "stray.png" in r.output
    r = runner.invoke(app, ["verify", str(tmp_path / "none")])
    assert r.exit_code == 2 and "manifest" in r.output
