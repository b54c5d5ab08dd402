"""blurkit.data: OnTheFlyPairs and PairFolder (seeding per item, alignment, layouts, errors)."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import blurkit.data as bd
from blurkit.data import OnTheFlyPairs, PairFolder, blur_crops, item_seed
from blurkit.io import read_image, write_image
from blurkit.synth import blur_batch, make_dataset


def _photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = rng.random((h, w, 3))
    return (img + np.linspace(0, 1, w)[None, :, None]) / 2


@pytest.fixture
def sharp_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "sharp"
    for i, (h, w) in enumerate([(40, 48), (44, 40), (36, 52), (40, 40), (30, 30)]):
        write_image(root / ("sub" if i % 2 else "") / f"im{i}.png", _photo(rng, h, w))
    return root


@pytest.fixture
def pair_dir(tmp_path: Path) -> Path:
    """blur/ + sharp/ pairs whose blurry image is the exact negative of the sharp one (8-bit)."""
    rng = np.random.default_rng(1)
    root = tmp_path / "pairs"
    for i in range(4):
        s = (rng.random((30 + i, 34, 3)) * 255).astype(np.uint8)
        write_image(root / "sharp" / f"p{i}.png", s)
        write_image(root / "blur" / f"p{i}.png", 255 - s)
    return root


def _stack(loader: DataLoader) -> tuple[torch.Tensor, list[int], list[str]]:
    sharp, seeds, keys = [], [], []
    for b in loader:
        sharp.append(b["sharp"])
        seeds += b["seed"].tolist()
        keys += list(b["key"])
    return torch.cat(sharp), seeds, keys


def test_on_the_fly_items_do_not_depend_on_worker_count(sharp_dir: Path) -> None:
    ds = OnTheFlyPairs(sharp_dir, preset="deblurgan", crop=16, margin=4, seed=3)
    a = _stack(DataLoader(ds, batch_size=2, num_workers=0))
    b = _stack(DataLoader(ds, batch_size=2, num_workers=2))
    assert torch.equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2]
    assert a[0].shape == (5, 3, 24, 24)
    assert len(set(a[1])) == 5


def test_on_the_fly_seed_is_a_function_of_seed_epoch_and_key(sharp_dir: Path) -> None:
    ds = OnTheFlyPairs(sharp_dir, preset="deblurgan", crop=16, margin=4, seed=3)
    i = ds.keys.index("sub/im1.png")
    assert ds[i]["seed"] == item_seed(3, 0, "sub/im1.png")
    # another image in the folder does not change this item
    write_image(sharp_dir / "aaa.png", _photo(np.random.default_rng(9), 40, 40))
    ds2 = OnTheFlyPairs(sharp_dir, preset="deblurgan", crop=16, margin=4, seed=3)
    j = ds2.keys.index("sub/im1.png")
    assert i != j
    assert torch.equal(ds[i]["sharp"], ds2[j]["sharp"]) and ds[i]["seed"] == ds2[j]["seed"]
    # a new epoch or base seed draws anew
    ds.set_epoch(1)
    assert ds[i]["seed"] != ds2[j]["seed"]
    assert OnTheFlyPairs(sharp_dir, crop=16, margin=4, seed=4)[i]["seed"] != ds2[j]["seed"]


def test_on_the_fly_blur_equals_blur_batch_then_cut(sharp_dir: Path, device: str) -> None:
    ds = OnTheFlyPairs(sharp_dir, preset="deblurgan", overrides={"length": 9}, crop=16, margin=4, seed=0)
    batch = next(iter(DataLoader(ds, batch_size=4)))
    blurred, sharp = ds.blur(batch, device=device)
    assert blurred.shape == sharp.shape == (4, 3, 16, 16)
    assert blurred.device.type == device
    full, _, _ = blur_batch(batch["sharp"].to(device), batch["seed"].tolist(), "deblurgan", {"length": 9})
    torch.testing.assert_close(blurred, full[..., 4:-4, 4:-4], atol=0, rtol=0)
    torch.testing.assert_close(sharp.cpu(), batch["sharp"][..., 4:-4, 4:-4], atol=0, rtol=0)
    assert not torch.allclose(blurred, sharp, atol=1e-3)


def test_on_the_fly_item_is_a_crop_of_the_image(sharp_dir: Path) -> None:
    ds = OnTheFlyPairs(sharp_dir, preset="deblurgan", crop=10, margin=3, flips=False, seed=0)
    item = ds[0]
    img = torch.from_numpy(read_image(ds.paths[0])).permute(2, 0, 1)
    crop = item["sharp"]
    hits = [
        (t, le)
        for t in range(img.shape[1] - 15)
        for le in range(img.shape[2] - 15)
        if torch.equal(img[:, t : t + 16, le : le + 16], crop)
    ]
    assert len(hits) == 1


def test_load_with_an_explicit_seed(sharp_dir: Path) -> None:
    ds = OnTheFlyPairs(sharp_dir, crop=16, margin=4)
    a, b = ds.load(2, seed=123), ds.load(2, seed=123)
    assert torch.equal(a["sharp"], b["sharp"]) and a["seed"] == 123
    assert not torch.equal(a["sharp"], ds.load(2, seed=124)["sharp"])


def test_pair_folder_crops_and_flips_both_images_alike(pair_dir: Path) -> None:
    ds = PairFolder(pair_dir, crop=16, flips=True, seed=0)
    assert len(ds) == 4 and ds.keys == ["p0.png", "p1.png", "p2.png", "p3.png"]
    flipped = 0
    for epoch in range(4):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            it = ds[i]
            assert it["blur"].shape == it["sharp"].shape == (3, 16, 16)
            torch.testing.assert_close(it["blur"], 1.0 - it["sharp"], atol=1e-6, rtol=0)
            whole = torch.from_numpy(read_image(ds.sharp_paths[i])).permute(2, 0, 1)
            flipped += not any(
                torch.equal(whole[:, t : t + 16, le : le + 16], it["sharp"])
                for t in range(whole.shape[1] - 15)
                for le in range(whole.shape[2] - 15)
            )
    assert flipped > 0  # flips happen


def test_pair_folder_whole_images_and_worker_count(pair_dir: Path) -> None:
    ds = PairFolder(pair_dir)
    it = ds[2]
    np.testing.assert_array_equal(it["sharp"].permute(1, 2, 0).numpy(), read_image(pair_dir / "sharp" / "p2.png"))
    cropped = PairFolder(pair_dir, crop=12, flips=True, seed=5)

    def run(workers: int) -> list[torch.Tensor]:
        return [b["blur"] for b in DataLoader(cropped, batch_size=2, num_workers=workers)]

    assert all(torch.equal(x, y) for x, y in zip(run(0), run(2), strict=True))


def test_pair_folder_reads_make_output(sharp_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "made"
    make_dataset(sharp_dir, out, seed=0, preset="deblurgan", overrides={"length": 7}, progress=False)
    ds = PairFolder(out)
    assert len(ds) == 5
    assert sorted(ds.keys) == sorted(OnTheFlyPairs(sharp_dir).keys)
    it = ds[ds.keys.index("sub/im1.png")]
    np.testing.assert_array_equal(it["blur"].permute(1, 2, 0).numpy(), read_image(out / "blur" / "sub" / "im1.png"))


def test_pair_folder_gopro_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    for scene in ("GOPR0001", "GOPR0002"):
        for k in range(2):
            s = (rng.random((20, 24, 3)) * 255).astype(np.uint8)
            write_image(tmp_path / "g" / scene / "sharp" / f"{k:06d}.png", s)
            write_image(tmp_path / "g" / scene / "blur" / f"{k:06d}.png", s)
    with pytest.raises(ValueError, match="no manifest.csv"):
        PairFolder(tmp_path / "g")
    ds = PairFolder(tmp_path / "g", layout="gopro")
    assert ds.keys == ["GOPR0001/000000.png", "GOPR0001/000001.png", "GOPR0002/000000.png", "GOPR0002/000001.png"]


def test_blur_crops_checks_the_margin() -> None:
    with pytest.raises(ValueError, match="margin"):
        blur_crops(torch.rand(1, 3, 8, 8), [0], margin=4)
    with pytest.raises(ValueError, match="margin"):
        blur_crops(torch.rand(1, 3, 8, 8), [0], margin=-1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"crop": 0}, ValueError, "crop"),
        ({"margin": -1}, ValueError, "margin"),
        ({"seed": -2}, ValueError, "seed"),
        ({"preset": "nope"}, ValueError, "unknown preset"),
        ({"overrides": {"lenght": 3}}, ValueError, "lenght"),
    ],
)
def test_on_the_fly_bad_settings(sharp_dir: Path, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        OnTheFlyPairs(sharp_dir, **kwargs)


def test_bad_folders(tmp_path: Path, pair_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder"):
        OnTheFlyPairs(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        OnTheFlyPairs(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        PairFolder(tmp_path / "missing")
    with pytest.raises(ValueError, match="layout"):
        PairFolder(pair_dir, layout="folders")
    (pair_dir / "blur" / "p3.png").unlink()
    with pytest.raises(FileNotFoundError, match="p3.png"):
        PairFolder(pair_dir)
    with pytest.raises(IndexError, match="out of range"):
        OnTheFlyPairs(pair_dir / "sharp")[10]


def test_models_data_reexports_the_same_functions() -> None:
    import models.data as md

    assert md.find_pairs is bd.find_pairs and md.random_crop_flip is bd.random_crop_flip


def test_doctests() -> None:
    result = doctest.testmod(bd, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 4


def _old_pair_crop(b: Path, s: Path, size: int | None, seed: int, flips: bool) -> list[np.ndarray]:
    """What the loaders did before they cropped in the file's bit depth: whole float images, then crop."""
    from blurkit.data.crops import _flip_only

    rng = np.random.default_rng(seed)
    imgs = [read_image(b), read_image(s)]
    if size is None:
        return _flip_only(imgs, rng) if flips else imgs
    return bd.random_crop_flip(imgs, size, rng, flips)


@pytest.mark.parametrize("kind", ["rgb8", "rgb16", "grey8", "rgba8", "float"])
def test_cropping_in_the_file_depth_gives_the_float_crops(tmp_path: Path, kind: str) -> None:
    import cv2

    rng = np.random.default_rng(3)
    paths = []
    for name in ("b", "s"):
        img = rng.random((23, 31, 3))
        if kind == "rgb16":
            p, data = tmp_path / f"{name}.png", (img * 65535).astype(np.uint16)
        elif kind == "grey8":
            p, data = tmp_path / f"{name}.png", (img[:, :, 0] * 255).astype(np.uint8)
        elif kind == "rgba8":
            p, data = tmp_path / f"{name}.png", (np.dstack([img, img[:, :, :1]]) * 255).astype(np.uint8)
        elif kind == "float":
            p, data = tmp_path / f"{name}.tiff", img.astype(np.float32)
        else:
            p, data = tmp_path / f"{name}.png", (img * 255).astype(np.uint8)
        assert cv2.imwrite(str(p), data)
        paths.append(p)
    store = bd.DecodedImages(10)
    for seed in range(6):
        for size in (8, 40, None):
            old = _old_pair_crop(paths[0], paths[1], size, seed, True)
            for images in (None, store):
                new = bd.load_pair_crop(paths[0], paths[1], size, seed, True, images)
                for a, o in zip(new, old, strict=True):
                    assert a.dtype == np.float32 and a.flags.writeable
                    np.testing.assert_array_equal(a, o)
        rng0 = np.random.default_rng(seed)
        old_sharp = bd.random_crop_flip([read_image(paths[1])], 12, rng0, True)[0]
        np.testing.assert_array_equal(bd.load_sharp_crop(paths[1], 12, seed, images=store), old_sharp)
    assert store.misses == 2 and store.hits > 0


def test_decoded_images_keeps_at_most_its_budget(pair_dir: Path) -> None:
    paths = sorted((pair_dir / "sharp").glob("*.png"))
    one = read_image(paths[0]).shape
    store = bd.DecodedImages(2.5 * one[0] * one[1] * 3 / 1e6)  # room for two 8-bit images (sizes differ a little)
    for p in paths:
        store.get(p)
    assert len(store) == 2 and store.misses == 4
    store.get(paths[-1])  # the most recent one is still there
    assert store.hits == 1
    store.get(paths[0])  # the oldest was dropped
    assert store.misses == 5
    none = bd.DecodedImages(0)
    none.get(paths[0]), none.get(paths[0])
    assert len(none) == 0 and none.misses == 2
    with pytest.raises(ValueError, match="max_mb"):
        bd.DecodedImages(-1)


def test_pair_folder_with_a_cache_gives_the_same_items(pair_dir: Path) -> None:
    plain = PairFolder(pair_dir, crop=12, flips=True, seed=5)
    cached = PairFolder(pair_dir, crop=12, flips=True, seed=5, cache_mb=10)
    for epoch in range(3):
        plain.set_epoch(epoch), cached.set_epoch(epoch)
        for i in range(len(plain)):
            a, b = plain[i], cached[i]
            assert torch.equal(a["blur"], b["blur"]) and torch.equal(a["sharp"], b["sharp"])
    assert cached.images.misses == 8 and cached.images.hits == 16  # 4 pairs decoded once, read 3 times
