import json

import numpy as np
import pytest

from benchmarks import gopro
from blurkit.io import write_image
from blurkit.metrics import psnr


def _scene(rng, root, scene, n=2, size=(24, 32)):
    for k in range(1, n + 1):
        sharp = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        blur = np.clip(sharp.astype(int) + rng.integers(-30, 31, sharp.shape), 0, 255).astype(np.uint8)
        for folder, img in (("sharp", sharp), ("blur", blur), ("blur_gamma", blur // 2)):
            write_image(root / scene / folder / f"{k:06d}.png", img)


@pytest.fixture
def gopro_root(tmp_path):
    rng = np.random.default_rng(0)
    test = tmp_path / "GOPRO_Large" / "test"
    _scene(rng, test, "GOPR0001_11_00")
    _scene(rng, test, "GOPR0002_11_00", n=3)
    return tmp_path


def test_layout_found_and_identity_model_scores_the_blur(gopro_root, tmp_path):
    pairs = gopro.find_gopro_pairs(gopro_root)
    assert len(pairs) == 5 and {p.scene for p in pairs} == {"GOPR0001_11_00", "GOPR0002_11_00"}
    res = gopro.evaluate_gopro(gopro_root, model="identity", progress=False)
    expected = [psnr(gopro.read_uint8(p.blurred), gopro.read_uint8(p.sharp)) for p in pairs]
    assert res["summary"]["psnr"] == pytest.approx(np.mean(expected), abs=1e-9)
    per_scene = {r["scene"]: r for r in res["scenes"]}
    assert per_scene["GOPR0002_11_00"]["pairs"] == 3
    assert per_scene["GOPR0001_11_00"]["psnr"] == pytest.approx(np.mean(expected[:2]), abs=1e-9)


def test_pred_folder_flat_names_and_cli(gopro_root, tmp_path, capsys):
    pred = tmp_path / "pred"
    for p in gopro.find_gopro_pairs(gopro_root):
        write_image(pred / f"{p.scene}-{p.blurred.name}", gopro.read_uint8(p.sharp))  # perfect predictions
    out = tmp_path / "out"
    assert gopro.main(["--root", str(gopro_root), "--pred", str(pred), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["summary"]["pairs"] == 5 and summary["summary"]["ssim_skimage"] == pytest.approx(1.0)
    assert "commit" in summary["meta"]
    assert (out / "per_scene.csv").read_text().count("\n") == 3
    assert "GOPR0002_11_00" in capsys.readouterr().out


def test_blur_gamma_switch(gopro_root):
    plain = gopro.evaluate_gopro(gopro_root, model="identity", progress=False)["summary"]["psnr"]
    gamma = gopro.evaluate_gopro(gopro_root, model="identity", blur_gamma=True, progress=False)["summary"][
        "psnr"
    ]
    assert gamma < plain - 3  # blur_gamma holds darker images here


def test_flat_input_target_layout(tmp_path):
    rng = np.random.default_rng(1)
    for name in ("GOPR0003_11_00-000001", "GOPR0003_11_00-000002", "GOPR0004_11_00-000001"):
        img = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
        write_image(tmp_path / "test" / "input" / f"{name}.png", img)
        write_image(tmp_path / "test" / "target" / f"{name}.png", img)
    pairs = gopro.find_gopro_pairs(tmp_path)
    assert [p.scene for p in pairs] == ["GOPR0003_11_00", "GOPR0003_11_00", "GOPR0004_11_00"]


def test_errors_name_the_problem(gopro_root, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="empty: no GoPro test split found"):
        gopro.find_gopro_pairs(empty)
    pred = tmp_path / "jpg"
    for p in gopro.find_gopro_pairs(gopro_root):
        write_image(pred / p.scene / p.blurred.name.replace(".png", ".jpg"), gopro.read_uint8(p.sharp))
    with pytest.raises(ValueError, match=r"lossy format \(\.jpg\)"):
        gopro.evaluate_gopro(gopro_root, pred=pred, progress=False)
    res = gopro.evaluate_gopro(gopro_root, pred=pred, allow_lossy=True, progress=False)
    assert 5 < res["summary"]["psnr"] < 60  # JPEG of noise: finite, far from perfect
    assert gopro.main(["--root", str(empty), "--model", "identity", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "empty" in err and err.count("\n") == 1
