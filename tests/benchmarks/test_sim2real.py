"""The sim-to-real study end to end on a tiny data root with the real layout (frames + photos)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import sim2real
from blurkit.io import write_image

TINY_CONFIG = """
[model]
name = "nafnet"
[generator]
width = 4
enc_blocks = [1, 1]
middle_blocks = 1
dec_blocks = [1, 1]
[data]
crop = 32
margin = 12
batch_size = 2
num_workers = 0
epoch_size = 8
seed = 0
[[data.sources]]
kind = "on_the_fly"
root = "bsds500/train"
[loss]
pixel = "l1"
[optim]
steps = 10
decay_start = 5
lr = 1e-3
[train]
amp = false
"""


def _data_root(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(root / "bsds500" / "train" / f"{i}.png", rng.random((72, 88, 3)).astype(np.float32))
    scene = rng.random((60, 140, 3)).astype(np.float32)
    for f in range(1, 101):  # a camera panning 1 px per frame over a random scene
        write_image(root / sim2real.FRAMES / f"{f:06d}.png", scene[:, f % 60 : f % 60 + 64])
    return root


@pytest.fixture
def study(tmp_path: Path) -> tuple[Path, Path]:
    data = _data_root(tmp_path / "data")
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY_CONFIG)
    return data, cfg


def test_study_trains_each_recipe_and_scores_it_on_real_pairs(
    study: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, cfg = study
    out = tmp_path / "out"
    args = ["--data-root", str(data), "--config", str(cfg), "--steps", "2", "--out", str(out),
            "--recipes", "realistic,no_linear_light,video_zoom,albumentations,real", "--albu-variants", "1"]
    assert sim2real.main(args) == 0
    assert "[real] training 2 steps: real frame averages" in capsys.readouterr().err
    for name in ("sim2real.md", "sim2real.json", "sim2real_bars.png", "sim2real_crops.png"):
        assert (out / name).is_file(), name
    result = json.loads((out / "sim2real.json").read_text())
    assert set(result["results"]) == {"identity", sim2real.ORACLE, "realistic", "no_linear_light", "video_zoom",
                                      "albumentations", "real"}
    # evaluation: frames 61-100 averaged over windows 7, 13, 21, 31 without overlap
    assert result["eval_pairs"] == 5 + 3 + 1 + 1
    assert result["results"]["identity"]["gain"] == 0.0
    assert all(np.isfinite(r["psnr"]) for r in result["results"].values())
    cfg_real = json.loads((out / "runs" / "real" / "recipe_config.json").read_text())
    assert cfg_real["data"]["sources"][0]["kind"] == "gopro"
    no_lin = json.loads((out / "runs" / "no_linear_light" / "recipe_config.json").read_text())
    assert no_lin["data"]["blur"] == {"response": "linear"} and no_lin["optim"]["steps"] == 2
    assert "scale" not in no_lin["data"]["sources"][0]
    zoom = json.loads((out / "runs" / "video_zoom" / "recipe_config.json").read_text())
    assert zoom["data"]["sources"][0]["scale"] == [1.5, 4.0] and zoom["data"]["blur_preset"] == "video"
    train_frames = sorted(p.name for p in (out / "data" / "frames" / "train").rglob("*.png"))
    eval_frames = sorted(p.name for p in (out / "data" / "frames" / "eval").rglob("*.png"))
    assert len(train_frames) == 60 and not set(train_frames) & set(eval_frames)
    table = (out / "sim2real.md").read_text()
    assert "| identity |" in table and "| real |" in table

    # a second run reuses the trained recipes; other settings without --retrain are refused
    assert sim2real.main(args) == 0
    said = capsys.readouterr().err
    assert "training" not in said and f"[real] reusing the trained run {out / 'runs' / 'real'}" in said
    assert sim2real.main([*args[:5], "3", *args[6:]]) == 2


def test_bad_arguments(study: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, cfg = study
    assert sim2real.main(["--data-root", str(data), "--recipes", "nope", "--out", str(tmp_path / "o")]) == 2
    assert "unknown" in capsys.readouterr().err
    assert sim2real.main(["--data-root", str(tmp_path / "none"), "--config", str(cfg), "--out", str(tmp_path / "o"),
                          "--recipes", "realistic"]) == 2
    assert "gopro_frames" in capsys.readouterr().err
    assert sim2real.main(["--steps", "0"]) == 2


def test_models_mode_scores_given_deblurrers_beside_the_ceiling(study: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = study
    out = tmp_path / "scored"
    assert sim2real.main(["--data-root", str(data), "--models", "identity", "--out", str(out)]) == 0
    result = json.loads((out / "sim2real.json").read_text())
    assert set(result["results"]) == {"identity", sim2real.ORACLE}  # "identity" as a model is the same row
    assert not (out / "runs").exists()  # nothing trained
    oracle = result["results"][sim2real.ORACLE]
    assert oracle["gain"] > 0.5  # the panning scene's blur is linear: the ceiling restores much of it
    table = (out / "sim2real.md").read_text()
    assert "1 model(s) scored" in table and f"| {sim2real.ORACLE} |" in table
    out2 = tmp_path / "plain"
    assert sim2real.main(["--data-root", str(data), "--models", "identity", "--no-oracle", "--out", str(out2)]) == 0
    assert set(json.loads((out2 / "sim2real.json").read_text())["results"]) == {"identity"}
    assert sim2real.main(["--real", str(tmp_path / "missing"), "--models", "identity", "--out", str(out2)]) == 2
