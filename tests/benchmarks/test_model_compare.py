"""``benchmarks.model_compare`` end to end on a tiny data root: three models trained, scored and costed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import model_compare
from blurkit.io import write_image

VGG16 = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "vgg"
    / "vgg16_imagenet_features_fp16.pth"
)


def _photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([np.sin(9 * x + c) * np.cos(7 * y - c) for c in (0.0, 1.0, 2.0)], axis=-1) * 0.4 + 0.5
    img[h // 3 : h // 2] += 0.3
    return np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1).astype(np.float32)


@pytest.mark.skipif(
    not VGG16.is_file(), reason=f"{VGG16} absent (offline VGG16 weights for DeblurGAN's loss)"
)
def test_model_compare_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    for sub, n in (("train", 4), ("val", 3)):
        for i in range(n):
            write_image(data / "bsds500" / sub / f"{i:03d}.png", _photo(rng, 96, 112))
    base = _photo(rng, 80, 96)
    for i in range(50):  # a slowly panning "video": frames for GoPro-style averaging
        write_image(data / "gopro_frames" / "seq" / f"{i:06d}.png", np.roll(base, i, axis=1))
    out = tmp_path / "out"
    args = [
        "--data-root", str(data), "--vgg-weights", str(VGG16), "--steps", "2", "--synthetic-count", "2",
        "--repeats", "1", "--warmup", "0", "--height", "64", "--width", "96", "--cpu-only", "--out", str(out),
    ]  # fmt: skip
    assert model_compare.main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    table = (out / "summary.md").read_text()
    for label in ("DeblurGAN", "DeblurGAN-v2", "Spatially variant RNN", "blurred input"):
        assert label in table
    rows = {r["model"]: r for r in summary["rows"]}
    labels = model_compare.labels()
    rnn = rows[labels["svrnn"]]
    assert 9.1 < rnn["params M (paper size)"] < 9.35  # the released architecture
    assert rnn["cpu ms 96x64"] > 0
    for name in model_compare.comparable_models():
        assert (out / "runs" / name / "generator.pt").is_file()
    # the depthwise-separable variant is costed beside the trained MobileNet model, and is lighter
    dsc, v2 = rows[labels["deblurganv2_dsc"]], rows[labels["deblurganv2"]]
    assert 0 < dsc["GMACs 96x64"] < v2["GMACs 96x64"]
    assert dsc["params M (paper size)"] < v2["params M (paper size)"]
    # held-out GoPro-style pairs came from the last frames only; the identity row scores both sets
    assert set(summary["scores"]) == {"synthetic_test", "gopro_test"}
    assert summary["scores"]["gopro_test"]["identity"]["pairs"] >= 1

    # a second run with the same configs reuses the finished runs; a changed config is refused
    # (the earlier run is kept) until --retrain says to replace it
    stamp = (out / "runs" / "svrnn" / "checkpoint.pt").stat().st_mtime_ns
    assert model_compare.main([*args, "--models", "svrnn"]) == 0
    assert (out / "runs" / "svrnn" / "checkpoint.pt").stat().st_mtime_ns == stamp
    changed = [*args, "--models", "svrnn", "--set", "svrnn.optim.lr=1e-3"]
    assert model_compare.main(changed) == 2
    assert "--retrain" in capsys.readouterr().err
    assert (out / "runs" / "svrnn" / "checkpoint.pt").stat().st_mtime_ns == stamp
    assert model_compare.main([*changed, "--retrain"]) == 0
    ck = torch.load(out / "runs" / "svrnn" / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert ck["config"]["optim"]["lr"] == 1e-3 and ck["config"]["optim"]["steps"] == 2
    rows = json.loads((out / "summary.json").read_text())["rows"]
    assert [r["model"] for r in rows] == ["blurred input (identity)", labels["svrnn"]]
    assert rows[1]["settings"] == "optim.lr=1e-3"
    assert model_compare.main([*args, "--models", "svrnn,gan"]) == 2


def test_small_config_keeps_the_warmup_share() -> None:
    cfg = model_compare.small_config("deblurgan", 50)
    share = cfg.loss.content_warmup / cfg.optim.steps
    assert 0 < share < 1
    for steps in (1, 7, 1000, 3000):
        scaled = model_compare.small_config("deblurgan", steps)
        assert scaled.optim.steps == steps and scaled.optim.decay_start == steps // 2
        assert scaled.raw["optim"]["steps"] == steps  # what the checkpoint will record
        assert scaled.loss.content_warmup <= steps
        assert abs(scaled.loss.content_warmup - share * steps) <= 0.5
    # a warm-up given in the settings is taken as is; the step budget is not a setting
    assert model_compare.small_config("deblurgan", 1000, ["loss.content_warmup=10"]).loss.content_warmup == 10
    with pytest.raises(ValueError, match="--steps"):
        model_compare.small_config("svrnn", 100, ["optim.steps=5"])
    rnn = model_compare.small_config("svrnn", 300, ["optim.lr=2e-4"])
    assert rnn.optim.lr == 2e-4 and not hasattr(rnn.loss, "content_warmup")
    with pytest.raises(ValueError, match="MODEL.SECTION.KEY"):
        model_compare.parse_settings(["cyclegan.optim.lr=1"], model_compare.comparable_models())
