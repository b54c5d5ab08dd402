"""Realism statistics on pairs with known answers, and the synthetic-vs-real comparison."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from blurkit.io import write_image
from blurkit.synth.realism import (
    STATISTICS,
    blur_sigma,
    compare_realism,
    draw_realism,
    folder_statistics,
    list_pairs,
    noise_sigma,
    pair_statistics,
)


def _scene(seed: int = 0, h: int = 96, w: int = 128) -> np.ndarray:
    """A smooth 8-bit scene with edges (no noise of its own)."""
    rng = np.random.default_rng(seed)
    low = rng.random((h // 16, w // 16, 3))
    img = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC) * 160 + 40
    img[h // 3 : h // 2, w // 4 : w // 2] += 50
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def test_noise_free_pair_has_no_noise_difference() -> None:
    sharp = _scene()
    blurred = cv2.GaussianBlur(sharp, (0, 0), 2.0)
    s = pair_statistics(blurred, sharp)
    assert abs(s["noise_blur"] - s["noise_sharp"]) < 0.2
    assert s["noise_blur"] < 0.5 and s["noise_sharp"] < 0.5


def test_added_noise_is_measured_on_its_side_only() -> None:
    rng = np.random.default_rng(3)
    sharp = _scene()
    noisy = np.clip(sharp + rng.normal(0, 5.0, sharp.shape), 0, 255).round().astype(np.uint8)
    s = pair_statistics(noisy, sharp)
    assert 3.0 < s["noise_blur"] < 3.7  # luma noise: 5 · sqrt(0.299² + 0.587² + 0.114²) = 3.34
    assert s["noise_sharp"] < 0.5
    assert abs(noise_sigma(np.full((64, 64), 7.0))) < 1e-9


def test_brightened_pair_shows_its_offset_and_identical_pair_none() -> None:
    sharp = _scene(1)
    s = pair_statistics(np.clip(sharp.astype(int) + 4, 0, 255).astype(np.uint8), sharp)
    assert s["offset"] == pytest.approx(4.0, abs=0.05)
    same = pair_statistics(sharp, sharp)
    assert same["offset"] == 0 and same["input_psnr"] == float("inf")
    assert same["blur_sigma"] == 0 and same["sharpness_ratio"] == pytest.approx(1.0)


def test_blur_extent_and_sharpness_follow_the_blur() -> None:
    sharp = _scene(2)
    mild = cv2.GaussianBlur(sharp, (0, 0), 1.0)
    strong = cv2.GaussianBlur(sharp, (0, 0), 4.0)
    assert blur_sigma(strong, sharp) > blur_sigma(mild, sharp) >= 0.5
    a, b = pair_statistics(mild, sharp), pair_statistics(strong, sharp)
    assert b["sharpness_ratio"] < a["sharpness_ratio"] < 1.0
    assert b["gradient_ratio"] < a["gradient_ratio"] < 1.0
    assert b["input_psnr"] < a["input_psnr"]
    with pytest.raises(ValueError, match="one size"):
        pair_statistics(sharp[:10], sharp)


def _pair_folder(root: Path, offset: int, n: int = 3, gopro: bool = False) -> Path:
    for i in range(n):
        sharp = _scene(10 + i)
        blurred = np.clip(cv2.GaussianBlur(sharp, (0, 0), 1.5).astype(int) + offset, 0, 255).astype(np.uint8)
        base = root / "scene_a" if gopro else root
        write_image(base / "sharp" / f"{i:06d}.png", sharp)
        write_image(base / "blur" / f"{i:06d}.png", blurred)
    return root


def test_folders_and_the_comparison(tmp_path: Path) -> None:
    syn = folder_statistics(_pair_folder(tmp_path / "syn", offset=3))
    real = folder_statistics(_pair_folder(tmp_path / "real", offset=0, gopro=True))
    assert len(syn) == len(real) == 3
    rows = {r["statistic"]: r for r in compare_realism(syn, real)}
    assert set(rows) == set(STATISTICS)
    assert rows["offset"]["gap"] == pytest.approx(3.0, abs=0.1)
    assert abs(rows["blur_sigma"]["gap"]) < 1e-9
    png = draw_realism(syn, real, tmp_path / "realism.png")
    assert cv2.imread(str(png)) is not None
    assert len(folder_statistics(tmp_path / "syn", limit=2)) == 2


def test_bad_folders_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        list_pairs(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no blurry/sharp pairs"):
        list_pairs(tmp_path / "empty")
    write_image(tmp_path / "lone" / "blur" / "a.png", _scene())
    (tmp_path / "lone" / "sharp").mkdir()
    with pytest.raises(FileNotFoundError, match="a.png"):
        list_pairs(tmp_path / "lone")
