import json
import math

import numpy as np
import pytest

from benchmarks import kohler
from blurkit.io import write_image


@pytest.fixture
def kohler_root(tmp_path):
    """Two benchmark images (1_3 and 2_1) with small drifting frame sequences, official layout."""
    rng = np.random.default_rng(0)
    for i, j, n in ((1, 3, 33), (2, 1, 6)):
        scene = kohler._smooth_scene(rng, 60)
        for k in range(1, n + 1):
            write_image(
                tmp_path / f"Image{i}" / f"Kernel{j}" / f"GroundTruth{i}_{j}_{k}.png",
                scene[k % 7 : k % 7 + 40, 5:45],
            )
        write_image(tmp_path / f"Blurry{i}_{j}.png", scene[10:50, 5:45] // 2 + 20)
    return tmp_path


def test_loader_and_cache(kohler_root):
    items = kohler.find_kohler(kohler_root)
    assert [(t.image, t.kernel) for t in items] == [(1, 3), (2, 1)]
    frames = kohler.load_frames(kohler_root, 1, 3)
    assert frames.shape == (33, 40, 40, 3) and frames.dtype == np.uint8
    assert (kohler_root / ".cache" / "GroundTruth1_3.npy").is_file()
    again = kohler.load_frames(kohler_root, 1, 3)
    assert isinstance(again, np.memmap) and np.array_equal(np.asarray(again), frames)


def test_predictions_scored_with_official_rules(kohler_root, tmp_path):
    pred = tmp_path / "pred"
    f13 = kohler.load_frames(kohler_root, 1, 3)
    f21 = kohler.load_frames(kohler_root, 2, 1)
    write_image(pred / "Mine1_3.png", f13[29])  # frame 30: skipped for image 1 kernel 3
    write_image(pred / "Mine2_1.png", f21[3])
    res = kohler.evaluate_kohler(kohler_root, pred=pred, progress=False)
    rows = {(r["image"], r["kernel"]): r for r in res["rows"]}
    assert rows[(2, 1)]["psnr"] == math.inf and rows[(2, 1)]["best_frame"] == 4
    assert rows[(1, 3)]["best_frame"] != 30 and rows[(1, 3)]["frames"] == 32
    assert not res["summary"]["complete"]


def test_cli_with_model_and_errors(kohler_root, tmp_path, capsys):
    out = tmp_path / "out"
    assert kohler.main(["--root", str(kohler_root), "--model", "identity", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["summary"]["images"] == 2 and math.isfinite(summary["summary"]["psnr"])
    capsys.readouterr()
    assert kohler.main(["--root", str(tmp_path / "nope"), "--model", "identity", "--out", str(out)]) == 2
    assert "nope: no such folder" in capsys.readouterr().err
    bad = tmp_path / "lossy"
    write_image(bad / "x1_3.jpg", kohler.load_frames(kohler_root, 1, 3)[0])
    write_image(bad / "x2_1.jpg", kohler.load_frames(kohler_root, 2, 1)[0])
    with pytest.raises(ValueError, match="lossy"):
        kohler.evaluate_kohler(kohler_root, pred=bad, progress=False)
    with pytest.raises(FileNotFoundError, match="Image3"):
        write_image(kohler_root / "Blurry3_1.png", np.zeros((40, 40, 3), np.uint8))
        kohler.find_kohler(kohler_root)


def test_synthetic_speed_runs_small():
    res = kohler.synthetic_speed(images=2, frames=5, size=64)
    assert res["projected_s_48_images"] == pytest.approx(48 * res["median_s_per_image"])


def test_download_offline_names_the_url(tmp_path, monkeypatch):
    import sys
    import urllib.request
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "datasets"))
    import _download

    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(ConnectionError, match="http://example.invalid/a.zip"):
        _download.download("http://example.invalid/a.zip", tmp_path / "a.zip", None)
    (tmp_path / "b.bin").write_bytes(b"abc")
    with pytest.raises(ValueError, match="does not match"):
        _download.verify(tmp_path / "b.bin", "md5:" + "0" * 32)
    _download.verify(tmp_path / "b.bin", "md5:900150983cd24fb0d6963f7d28e17f72")
