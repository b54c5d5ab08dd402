import csv
import json

import numpy as np
import pytest

from benchmarks import evaluate
from blurkit.io import write_image


@pytest.fixture
def pair_folder(tmp_path):
    """A tiny blurkit-style output: manifest.csv, blur/, sharp/, plus predictions half-way between."""
    rng = np.random.default_rng(0)
    rows = []
    for k, length in enumerate((5.0, 15.0, 30.0)):
        sharp = rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)
        noise = rng.integers(-int(length), int(length) + 1, sharp.shape)
        blur = np.clip(sharp.astype(int) + noise, 0, 255).astype(np.uint8)
        pred = np.clip(sharp.astype(int) + noise // 2, 0, 255).astype(np.uint8)
        write_image(tmp_path / "pairs" / "sharp" / f"img{k}.png", sharp)
        write_image(tmp_path / "pairs" / "blur" / f"img{k}.png", blur)
        write_image(tmp_path / "pred" / f"img{k}.png", pred)
        rows.append(
            {"key": f"img{k}", "blur": f"blur/img{k}.png", "sharp": f"sharp/img{k}.png", "length": length}
        )
    with open(tmp_path / "pairs" / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return tmp_path


def test_manifest_gain_and_plots(pair_folder):
    out = pair_folder / "out"
    code = evaluate.main(
        [
            "--pred",
            str(pair_folder / "pred"),
            "--gt",
            str(pair_folder / "pairs" / "sharp"),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["rows"]
    assert [r["length"] for r in rows] == [5.0, 15.0, 30.0]
    assert all(r["psnr_gain"] > 3 for r in rows)  # halving the error gains about 6 dB
    assert (out / "psnr_hist.png").stat().st_size > 1000
    assert (out / "gain_vs_length.png").stat().st_size > 1000
    header = (out / "per_image.csv").read_text().splitlines()[0]
    assert header.startswith("image,psnr,ssim_skimage,ssim_matlab3d")


def test_without_manifest_no_gain_plot(pair_folder, tmp_path):
    (pair_folder / "pairs" / "manifest.csv").unlink()
    res = evaluate.evaluate_folders(pair_folder / "pred", pair_folder / "pairs" / "sharp", progress=False)
    assert res["manifest"] is None and "psnr_gain" not in res["rows"][0]
    written = evaluate.plot_results(res["rows"], tmp_path / "plots")
    assert [p.name for p in written] == ["psnr_hist.png"]
    res = evaluate.evaluate_folders(
        pair_folder / "pred",
        pair_folder / "pairs" / "sharp",
        blurred=pair_folder / "pairs" / "blur",
        progress=False,
    )
    assert "psnr_gain" in res["rows"][0] and "length" not in res["rows"][0]


def test_matching_and_errors(pair_folder, capsys):
    with pytest.raises(FileNotFoundError, match="nope: no such folder"):
        evaluate.evaluate_folders(pair_folder / "nope", pair_folder / "pairs" / "sharp", progress=False)
    other = pair_folder / "other"
    write_image(other / "zzz.png", np.zeros((24, 30, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match="matches"):
        evaluate.evaluate_folders(other, pair_folder / "pairs" / "sharp", progress=False)
    small = pair_folder / "small"
    write_image(small / "img0.png", np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(20, 30, 3\).*\(24, 30, 3\)"):
        evaluate.evaluate_folders(small, pair_folder / "pairs" / "sharp", progress=False)
    args = [
        "--pred",
        str(small),
        "--gt",
        str(pair_folder / "pairs" / "sharp"),
        "--out",
        str(pair_folder / "o"),
        "--quiet",
    ]
    assert evaluate.main(args) == 2
    assert capsys.readouterr().err.startswith("error:")
