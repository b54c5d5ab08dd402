"""Training data: pair discovery, mixing ratio, seeding, crops, collation and on-the-fly blur."""

from __future__ import annotations

import sys
import types
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import smooth_image
from torch.utils.data import DataLoader

from blurkit.io import write_image
from models.data import (
    MixedPairs,
    MixedSampler,
    SourceConfig,
    collate_mixed,
    find_pairs,
    materialize_batch,
    random_crop_flip,
    resolve_source,
    seed_worker,
    source_probabilities,
)
from models.training.config import config_from_dict


def test_find_pairs_folder_layout(pair_folder: Path) -> None:
    blur, sharp = find_pairs(pair_folder)
    assert len(blur) == len(sharp) == 6
    assert [b.name for b in blur] == [s.name for s in sharp]
    assert all(b.parent.name == "blur" for b in blur)


def test_find_pairs_manifest(tmp_path: Path, pair_folder: Path) -> None:
    (pair_folder / "manifest.csv").write_text(
        "id,blur,sharp,seed\na,blur/001.png,sharp/001.png,3\nb,blur/004.png,sharp/004.png,4\n"
    )
    blur, sharp = find_pairs(pair_folder)
    assert [p.name for p in blur] == ["001.png", "004.png"] and sharp[1] == pair_folder / "sharp/004.png"
    (pair_folder / "manifest.csv").write_text("blur,sharp\nblur/001.png,sharp/999.png\n")
    with pytest.raises(FileNotFoundError, match="999.png"):
        find_pairs(pair_folder)
    (pair_folder / "manifest.csv").write_text("input,target\nblur/001.png,sharp/001.png\n")
    with pytest.raises(ValueError, match="columns"):
        find_pairs(pair_folder)


def test_find_pairs_gopro_scenes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for scene, n in (("GOPR0001_00_00", 2), ("GOPR0002_00_00", 3)):
        for i in range(n):
            img = smooth_image(rng, 16, 16)
            write_image(tmp_path / scene / "sharp" / f"{i:06d}.png", img)
            write_image(tmp_path / scene / "blur" / f"{i:06d}.png", img)
    (tmp_path / "GOPR0002_00_00" / "blur_gamma").mkdir()
    blur, _ = find_pairs(tmp_path, "gopro")
    assert len(blur) == 5 and blur[0].parts[-3] == "GOPR0001_00_00"
    with pytest.raises(ValueError, match="no manifest"):
        find_pairs(tmp_path, "pairs")
    (tmp_path / "GOPR0001_00_00" / "blur" / "000001.png").unlink()
    with pytest.raises(FileNotFoundError, match="000001.png"):
        find_pairs(tmp_path, "gopro")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find_pairs(tmp_path / "nowhere")


def test_source_probabilities_groups_and_weights() -> None:
    cfg = [SourceConfig("on_the_fly", "a", 3.0), SourceConfig("pairs", "b", 1.0), SourceConfig("gopro", "c")]
    p = source_probabilities(cfg, 2.0)
    np.testing.assert_allclose(p, [0.5, 1 / 6, 1 / 3])
    np.testing.assert_allclose(source_probabilities(cfg[:2], 2.0), [0.75, 0.25])  # one group only
    with pytest.raises(ValueError, match="synthetic_to_real"):
        source_probabilities(cfg, 0.0)
    with pytest.raises(ValueError, match="kind"):
        SourceConfig("video", "x")


@pytest.mark.parametrize("ratio", [2.0, 0.5])
def test_mixing_ratio_holds_over_many_draws(ratio: float) -> None:
    cfg = [SourceConfig("on_the_fly", "a"), SourceConfig("pairs", "b"), SourceConfig("gopro", "c")]
    sampler = MixedSampler([50, 7, 20], source_probabilities(cfg, ratio), epoch_size=4000, seed=1)
    counts: Counter[int] = Counter()
    for epoch in range(5):
        sampler.set_epoch(epoch)
        counts.update(s for s, _, _ in sampler)
    n = sum(counts.values())
    synthetic = (counts[0] + counts[1]) / n
    expected = ratio / (ratio + 1)
    assert abs(synthetic - expected) < 4 * np.sqrt(expected * (1 - expected) / n) + 1e-3
    assert abs(counts[0] - counts[1]) < 0.06 * n  # equal weights inside the synthetic group


def test_sampler_determinism_epochs_ranks_and_resume() -> None:
    s = MixedSampler([5, 9], [0.5, 0.5], epoch_size=40, seed=7)
    first = list(s)
    assert first == list(s)
    s.set_epoch(1)
    assert list(s) != first
    s.set_epoch(0)
    # every item of a source is visited before any repeats
    items0 = [i for src, i, _ in first if src == 0]
    assert sorted(items0[:5]) == list(range(5))
    # ranks partition the epoch's draws
    shares = [list(MixedSampler([5, 9], [0.5, 0.5], 40, 7, rank=r, world_size=3)) for r in range(3)]
    assert len({len(x) for x in shares}) == 1
    assert sorted(d for share in shares for d in share) == sorted(first[: 3 * (40 // 3)])
    # resuming mid-epoch yields the rest of the same epoch
    s.set_position(0, 13)
    assert list(s) == first[13:] and len(s) == 27
    with pytest.raises(ValueError, match="rank"):
        MixedSampler([5], [1.0], 10, rank=2, world_size=2)


def test_random_crop_flip_is_aligned_and_seeded() -> None:
    img = np.random.default_rng(0).random((40, 50, 3)).astype(np.float32)
    a1, b1 = random_crop_flip([img, img * 0.5], 16, np.random.default_rng(3))
    a2, _ = random_crop_flip([img, img * 0.5], 16, np.random.default_rng(3))
    assert a1.shape == (16, 16, 3)
    np.testing.assert_allclose(b1, a1 * 0.5)
    np.testing.assert_array_equal(a1, a2)
    small = random_crop_flip([img[:10, :12]], 16, np.random.default_rng(0))[0]  # padded up
    assert small.shape == (16, 16, 3)
    with pytest.raises(ValueError, match="one shape"):
        random_crop_flip([img, img[:30]], 16, np.random.default_rng(0))


def _dataset(pair_folder: Path) -> tuple[MixedPairs, MixedSampler]:
    sources = [
        resolve_source(SourceConfig("pairs", str(pair_folder))),
        resolve_source(SourceConfig("on_the_fly", str(pair_folder / "sharp"))),
    ]
    probs = source_probabilities([s.config for s in sources], 1.0)
    return MixedPairs(sources, crop=16, margin=4), MixedSampler([len(s) for s in sources], probs, 24, seed=3)


def test_dataset_items_and_collation(pair_folder: Path) -> None:
    ds, sampler = _dataset(pair_folder)
    draws = list(sampler)
    items = [ds[d] for d in draws]
    pair_items = [it for it in items if not it["synthetic_on_the_fly"]]
    fly_items = [it for it in items if it["synthetic_on_the_fly"]]
    assert pair_items and fly_items
    assert pair_items[0]["blur"].shape == (3, 16, 16) and fly_items[0]["sharp"].shape == (3, 24, 24)
    assert ds[draws[0]]["sharp"].equal(items[0]["sharp"])  # an item regenerates alone
    batch = collate_mixed(items[:6])
    n_fly = sum(it["synthetic_on_the_fly"] for it in items[:6])
    assert batch.fly_sharp.shape[0] == n_fly == len(batch.fly_seeds)
    assert batch.pair_blur.shape[0] == 6 - n_fly and batch.sources.shape == (6,)


def test_loader_independent_of_worker_count(pair_folder: Path) -> None:
    ds, sampler = _dataset(pair_folder)

    def run(workers: int) -> list[torch.Tensor]:
        loader = DataLoader(
            ds,
            batch_size=4,
            sampler=sampler,
            num_workers=workers,
            collate_fn=collate_mixed,
            worker_init_fn=seed_worker,
            generator=torch.Generator().manual_seed(0),
        )
        return [torch.cat([b.pair_sharp.flatten(), b.fly_sharp.flatten()]) for b in loader]

    a, b = run(0), run(2)
    assert len(a) == len(b) == 6
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_decoded_image_cache_changes_no_draw_and_is_a_config_key(pair_folder: Path) -> None:
    ds, sampler = _dataset(pair_folder)
    cached = MixedPairs(ds.sources, crop=16, margin=4, cache_mb=50)
    for d in list(sampler) * 2:
        a, b = ds[d], cached[d]
        assert torch.equal(a["sharp"], b["sharp"])
        assert (a["blur"] is None and b["blur"] is None) or torch.equal(a["blur"], b["blur"])
    assert cached.images.hits > cached.images.misses > 0 and ds.images.hits == 0
    raw = {"model": {"name": "nafnet"}, "data": {"sources": [{"kind": "pairs", "root": "x"}], "cache_mb": 512}}
    assert config_from_dict(raw).data.cache_mb == 512
    with pytest.raises(ValueError, match="cache_mb must be >= 0"):
        config_from_dict({**raw, "data": {**raw["data"], "cache_mb": -1}})


def test_materialize_batch_blurs_on_device_and_cuts_margin(
    pair_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plumbing check with a recording test double standing in for blurkit.synth.blur_batch."""
    calls = []

    def fake_blur_batch(sharp, seeds, preset="realistic", overrides=None):  # type: ignore[no-untyped-def]
        calls.append((tuple(sharp.shape), list(seeds), preset))
        return sharp * 0.5, torch.zeros(sharp.shape[0], 3, 3), [{} for _ in seeds]

    monkeypatch.setitem(sys.modules, "blurkit.synth", types.SimpleNamespace(blur_batch=fake_blur_batch))
    ds, sampler = _dataset(pair_folder)
    items = [ds[d] for d in list(sampler)[:12]]
    batch = collate_mixed(items)
    blurred, sharp = materialize_batch(batch, "cpu", margin=4, preset="deblurgan")
    n_fly = len(batch.fly_seeds)
    assert 0 < n_fly < 12
    assert blurred.shape == sharp.shape == (12, 3, 16, 16)
    assert calls == [((n_fly, 3, 24, 24), batch.fly_seeds, "deblurgan")]
    torch.testing.assert_close(blurred[-n_fly:], sharp[-n_fly:] * 0.5)
    torch.testing.assert_close(sharp[-n_fly:], batch.fly_sharp[..., 4:-4, 4:-4])


def test_materialize_batch_with_blurkit(pair_folder: Path) -> None:
    synth = pytest.importorskip("blurkit.synth", reason="blurkit.synth.blur_batch not available yet")
    if not hasattr(synth, "blur_batch"):
        pytest.skip("blurkit.synth.blur_batch not available yet")
    ds, sampler = _dataset(pair_folder)
    items = [ds[d] for d in list(sampler)[:12]]
    batch = collate_mixed(items)
    b1, s1 = materialize_batch(batch, "cpu", margin=4)
    b2, _ = materialize_batch(batch, "cpu", margin=4)
    assert b1.shape == s1.shape == (12, 3, 16, 16)
    assert torch.equal(b1, b2)  # same seeds, same blur
    n_fly = len(batch.fly_seeds)
    assert not torch.equal(b1[-n_fly:], s1[-n_fly:])


def test_on_the_fly_scale_zooms_and_keeps_old_draws(tmp_path: Path) -> None:
    from blurkit.data import load_sharp_crop

    rng = np.random.default_rng(3)
    image = rng.random((90, 120, 3)).astype(np.float32)  # white noise: every pixel differs
    path = tmp_path / "noise.png"
    write_image(path, image)
    plain = load_sharp_crop(path, 40, seed=7)
    assert np.array_equal(plain, load_sharp_crop(path, 40, seed=7, scale=None))
    zoomed = load_sharp_crop(path, 40, seed=7, scale=(3.0, 3.0))
    assert zoomed.shape == plain.shape == (40, 40, 3)
    # a 3x enlargement of noise is smooth: neighbouring pixels differ far less than in the photo
    step = lambda a: float(np.abs(np.diff(a, axis=1)).mean())  # noqa: E731
    assert step(zoomed) < 0.5 * step(plain)
    assert np.array_equal(zoomed, load_sharp_crop(path, 40, seed=7, scale=(3.0, 3.0)))


def test_source_scale_is_checked() -> None:
    assert SourceConfig("on_the_fly", "a", scale=[1, 2]).scale == (1.0, 2.0)
    with pytest.raises(ValueError, match="0 < lo <= hi"):
        SourceConfig("on_the_fly", "a", scale=(2.0, 1.0))
    with pytest.raises(ValueError, match="only on_the_fly"):
        SourceConfig("pairs", "a", scale=(1.0, 2.0))
