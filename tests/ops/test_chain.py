"""Chain versions: chain 2's tables, noise sampler and 8-bit path; chain 1 kept for older records."""

import importlib
import math

import numpy as np
import pytest
import torch

from blurkit.io import to_uint
from blurkit.ops import (
    PRESETS,
    DegradeConfig,
    apply_degradation,
    degrade_batch,
    resolve_config,
    sample_degradation,
)
from blurkit.ops.chain import apply_chain1
from blurkit.ops.color import from_linear, grid_levels, linear_table, to_linear
from blurkit.ops.convolve import convolve_chain1
from blurkit.ops.cpu_chain import degrade_image8, finish
from blurkit.ops.degrade import CHAIN_VERSION
from blurkit.ops.highlights import boost_highlights
from blurkit.ops.noise import EXACT_POISSON_BELOW, poisson_gaussian, poisson_tables

RESPONSES = ["srgb", "gamma:2.2", "linear"]


def _scene(seed=0, h=48, w=64):
    """8-bit display values with a clipped highlight."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    img[5:15, 10:40] = 255
    return img


def _as_float(img8):
    return torch.from_numpy(img8).permute(2, 0, 1)[None].float() / 255.0


def _noise_only(shot, read, response="linear"):
    """A config that adds noise to an unblurred image (a one-pixel kernel, no boost)."""
    return resolve_config("realistic", {"length": 0.0, "shot": shot, "read": read, "boost": 1.0, "response": response})


@pytest.mark.parametrize("response", RESPONSES)
def test_linear_table_is_the_float64_curve_rounded_once(response):
    levels = grid_levels()
    assert np.array_equal(levels, (np.arange(256, dtype=np.float32) / np.float32(255)))
    ref = to_linear(torch.from_numpy(levels.astype(np.float64)), response).float().numpy()
    table = linear_table(response)
    # the table holds the correctly rounded curve (torch's float64 pow may differ in the last bit)
    assert np.abs(table.view(np.int32) - ref.view(np.int32)).max() <= 1
    for k in (0, 1, 10, 11, 128, 254, 255):
        x = float(levels[k])
        if response == "srgb":
            want = x / 12.92 if x <= 0.04045 else math.pow((x + 0.055) / 1.055, 2.4)
        elif response == "linear":
            want = x
        else:
            want = math.pow(x, 2.2)
        assert table[k] == np.float32(want)


@pytest.mark.parametrize("response", RESPONSES)
def test_8bit_and_float_input_give_the_same_linear_values(response):
    """The table path (8-bit levels) and the curve path (any float) agree on 8-bit levels."""
    img = _scene(1)
    cfg = resolve_config("deblurgan", {"response": response, "length": 0.0})
    d = sample_degradation(3, cfg)
    x = _as_float(img)
    off_grid = x * (1 - 1e-7)  # not on the 8-bit grid: the curve path
    a = apply_degradation(x, torch.from_numpy(d.kernel)[None], [d.record])
    b = apply_degradation(off_grid, torch.from_numpy(d.kernel)[None], [d.record])
    assert (a - b).abs().max() < 1e-5


def _hard_values(response):
    """Linear values whose display value lies next to a float32 rounding midpoint or an 8-bit level
    boundary (the thresholds of the 8-bit path, and their neighbours), and spread over [0, 1]."""
    from blurkit.ops.color import display_thresholds

    inverse = {"srgb": lambda d: d / 12.92 if d <= 0.04045 else ((d + 0.055) / 1.055) ** 2.4,
               "gamma:2.2": lambda d: d**2.2, "linear": lambda d: d}[response]
    rng = np.random.default_rng(3)
    f = np.sort(rng.random(3000).astype(np.float32))
    mids = (f.astype(np.float64) + np.nextafter(f, np.float32(2)).astype(np.float64)) / 2
    levels = (np.arange(1, 256) - 0.5) / 255
    targets = np.concatenate([mids, levels])
    v = np.array([inverse(float(d)) for d in targets])
    edges = display_thresholds(response)[0][1:-1]
    near = np.concatenate([v, np.nextafter(v, 0), np.nextafter(v, 2), edges, np.nextafter(edges, 0)])
    return np.clip(np.concatenate([near, rng.random(20000), rng.random(5000) ** 6, [0.0, 1.0, 2.0**-10]]), 0, 1)


@pytest.mark.parametrize("response", RESPONSES)
@pytest.mark.parametrize("tier", ["always", "never"])
def test_display_values_are_the_curve_rounded_once(response, tier, monkeypatch):
    """Fast pieces or the curve itself, compiled or in NumPy: always float32 of libm's curve."""
    monkeypatch.setenv("BLURKIT_JIT", tier)
    v = _hard_values(response)
    side = int(math.ceil(math.sqrt(v.size)))
    plane = np.resize(v, side * side).reshape(side, side)
    lin = np.stack([plane.astype(np.float32)] * 3)  # float32 planes, as the blur leaves them
    rec = {"shot": 0.0, "read": 0.0, "noise_seed": 1, "response": response}
    got = finish(lin, rec)
    exact = np.array([float(x) for x in lin[0].ravel()])
    assert np.array_equal(got[0], _libm_display(exact, response).reshape(plane.shape))
    out8 = finish(lin, rec, np.empty((side, side, 3), np.uint8))
    assert np.array_equal(out8, to_uint(got.transpose(1, 2, 0)))


def _libm_display(v, response):
    """float32 of the display curve computed with Python's math (libm), value by value."""
    if response == "srgb":
        d = [x * 12.92 if x <= 0.0031308 else 1.055 * math.pow(x, 1 / 2.4) - 0.055 for x in v.tolist()]
    elif response == "gamma:2.2":
        d = [math.pow(x, 1 / 2.2) for x in v.tolist()]
    else:
        d = v.tolist()
    return np.array(d).astype(np.float32)


@pytest.mark.parametrize("preset", ["realistic", "realistic_jpeg", "deblurgan", "line", "video"])
def test_8bit_path_gives_the_bytes_of_the_float_path(preset):
    img = _scene(2)
    cfg = resolve_config(preset, {"local": 0.5} if preset == "video" else None)
    for seed in range(4):
        d = sample_degradation(seed, cfg)
        y = apply_degradation(_as_float(img), torch.from_numpy(d.kernel)[None], [d.record])
        want = to_uint(y[0].permute(1, 2, 0).numpy())
        assert np.array_equal(degrade_image8(img, d.kernel, d.record), want), (preset, seed)


def test_noise_does_not_depend_on_the_thread_count_or_the_blocks(monkeypatch):
    img = _scene(3, 80, 96)
    d = sample_degradation(11, _noise_only(0.004, 0.01, "srgb"))
    k = torch.from_numpy(d.kernel)[None]
    import numba

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = apply_degradation(_as_float(img), k, [d.record])
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        two = apply_degradation(_as_float(img), k, [d.record])
    finally:
        numba.set_num_threads(before)
    monkeypatch.setattr(importlib.import_module("blurkit.ops.cpu_chain"), "ROWS_PER_BLOCK", 7)
    cut = apply_degradation(_as_float(img), k, [d.record])
    assert torch.equal(one, two) and torch.equal(one, cut)


def _counts(shot, lam, n=120_000, seed=5):
    """Photon counts drawn by chain 2 for a flat image of ``lam`` expected photons."""
    y = lam * shot
    side = int(math.sqrt(n / 3)) + 1
    x = torch.full((1, 3, side, side), float(y))
    cfg = resolve_config("deblurgan", {"length": 0.0, "shot": shot, "response": "linear"})
    out, _, rec = degrade_batch(x, [seed], cfg)
    assert rec[0]["chain"] == 2
    return out.double().flatten().numpy() / shot


@pytest.mark.parametrize("lam", [0.3, 2.5, 10.0, 37.6, 63.2])
def test_small_counts_are_exact_poisson(lam):
    from scipy import stats

    counts = _counts(0.001, lam)
    assert np.allclose(counts, np.round(counts), atol=1e-3)  # whole photons
    k = np.round(counts).astype(int)
    lo, hi = int(stats.poisson.ppf(0.001, lam)), int(stats.poisson.ppf(0.999, lam))
    observed = np.array([(k <= lo).sum()] + [(k == i).sum() for i in range(lo + 1, hi)] + [(k >= hi).sum()])
    p = np.array([stats.poisson.cdf(lo, lam)] + [stats.poisson.pmf(i, lam) for i in range(lo + 1, hi)]
                 + [stats.poisson.sf(hi - 1, lam)])
    assert stats.chisquare(observed, p / p.sum() * observed.sum()).pvalue > 1e-4
    assert abs(k.mean() - lam) < 5 * math.sqrt(lam / k.size) + 1e-9


@pytest.mark.parametrize("lam", [64.5, 200.0, 5000.0])
def test_large_counts_are_normal_with_the_poisson_variance(lam):
    from scipy import stats

    counts = _counts(1e-4, lam)
    assert not np.allclose(counts, np.round(counts))  # continuous: the normal approximation
    assert abs(counts.mean() - lam) < 5 * math.sqrt(lam / counts.size)
    assert abs(counts.var() / lam - 1) < 0.03
    assert abs(stats.skew(counts)) < 0.03  # symmetric (a Poisson law at 64.5 has skewness 0.125)
    assert stats.kstest((counts - lam) / math.sqrt(lam), "norm").pvalue > 1e-4


def test_switch_point_and_read_noise_variance():
    assert EXACT_POISSON_BELOW == 64
    cdf, guide = poisson_tables()
    assert guide.shape[0] == EXACT_POISSON_BELOW
    assert cdf.shape[0] == EXACT_POISSON_BELOW and (np.diff(cdf, axis=1) >= 0).all() and (cdf[:, -1] == 1).all()
    x = torch.full((1, 3, 200, 200), 0.5)
    for shot, read in ((0.01, 0.02), (1e-4, 0.02), (0.0, 0.03)):  # exact, normal, read noise alone
        y, _, _ = degrade_batch(x, [3], _noise_only(shot, read))
        var = float((y.double() - 0.5).var())
        assert abs(var - (shot * 0.5 + read**2)) / (shot * 0.5 + read**2) < 0.05


def test_noise_seeds_differ_and_repeat():
    x = _as_float(_scene(4))
    cfg = _noise_only(0.003, 0.004, "srgb")
    a = degrade_batch(x, [1], cfg)[0]
    assert torch.equal(a, degrade_batch(x, [1], cfg)[0])
    assert not torch.equal(a, degrade_batch(x, [2], cfg)[0])


def test_chain_field_of_configs_and_records():
    cfg = PRESETS["realistic"]
    assert cfg.chain == CHAIN_VERSION == 2
    assert cfg.to_dict()["chain"] == 2 and sample_degradation(1, cfg).record["chain"] == 2
    old = resolve_config("realistic", {"chain": 1})
    assert "chain" not in old.to_dict() and "chain" not in sample_degradation(1, old).record
    assert DegradeConfig.from_dict(old.to_dict()) == old
    assert DegradeConfig.from_dict(cfg.to_dict()) == cfg
    for bad in (3, 0, True, "2"):
        with pytest.raises(ValueError, match="chain"):
            DegradeConfig(chain=bad)


def test_a_batch_shares_one_chain():
    x = _as_float(_scene(5))
    new = sample_degradation(1, PRESETS["deblurgan"])
    old = sample_degradation(1, resolve_config("deblurgan", {"chain": 1}))
    k = torch.from_numpy(np.stack([new.kernel, old.kernel]))
    with pytest.raises(ValueError, match="chain"):
        apply_degradation(x.repeat(2, 1, 1, 1), k, [new.record, old.record])
    with pytest.raises(ValueError, match="chain"):
        apply_degradation(x, k[:1], [{**new.record, "chain": 9}])
    with pytest.raises(ValueError, match="chain"):
        degrade_image8(_scene(5), old.kernel, old.record)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_records_without_a_chain_field_run_the_chain_1_steps(preset):
    """Chain 1, step by step as blurkit 0.1 computed it: torch curves, torch noise, and the blur of
    ``convolve_chain1`` (which pins the crossover and the FFT path of that version)."""
    x = _as_float(_scene(6))
    cfg = resolve_config(preset, {"chain": 1, "local": 0.0})
    for seed in (1, 2):
        d = sample_degradation(seed, cfg)
        k = torch.from_numpy(d.kernel)[None]
        lin = boost_highlights(to_linear(x, d.record["response"]), [d.record])
        y = convolve_chain1(lin, k, d.record["border"]).clamp(0, 1)
        if d.record["shot"] > 0 or d.record["read"] > 0:
            g = torch.Generator().manual_seed(int(d.record["noise_seed"]))
            y = poisson_gaussian(y[0], d.record["shot"], d.record["read"], g).clamp(0, 1)[None]
        want = from_linear(y, d.record["response"])
        got = apply_degradation(x, k, [d.record])
        if d.record.get("jpeg_quality") is None:
            assert torch.equal(got, want)
        assert torch.equal(got, apply_chain1(x, k, [d.record], d.record["border"], d.record["response"]))


def test_chain_1_folders_regenerate_and_resume(sharp_folder, tmp_path):
    """A folder made with chain 1 (as older versions wrote it) regenerates bit for bit and resumes."""
    import json

    from blurkit.io import encode_image
    from blurkit.synth import make_dataset, read_manifest, regenerate_blurred

    out = tmp_path / "old"
    small = {"length": (3.0, 12.0), "chain": 1}
    make_dataset(sharp_folder, out, seed=3, overrides=small, limit=2, progress=False)
    run = json.loads((out / "blurkit.json").read_text())
    assert "chain" not in run["config"]  # the config reads as older versions saved it
    df = read_manifest(out)
    assert "chain" not in df.columns
    for _, row in df.iterrows():
        assert encode_image(regenerate_blurred(out, row["key"]), ".png") == (out / row["blur"]).read_bytes()
    res = make_dataset(sharp_folder, out, seed=3, overrides=small, resume=True, progress=False)
    assert res.ok
    new = tmp_path / "new"
    make_dataset(sharp_folder, new, seed=3, overrides={"length": (3.0, 12.0)}, limit=2, progress=False)
    assert json.loads((new / "blurkit.json").read_text())["config"]["chain"] == 2
    for _, row in read_manifest(new).iterrows():
        assert row["chain"] == 2
        assert encode_image(regenerate_blurred(new, row["key"]), ".png") == (new / row["blur"]).read_bytes()


def test_numpy_twins_give_the_bytes_of_the_compiled_passes(monkeypatch):
    """The NumPy tier (run before compiling pays) and the compiled passes agree bit for bit."""
    img = _scene(7, 40, 56)
    x = _as_float(img)
    configs = [
        resolve_config("realistic", {"shot": (0.002, 0.03), "read": 0.01}),  # mostly exact Poisson
        resolve_config("realistic_jpeg", {"shot": 1e-4, "read": 0.05}),  # normal noise, rare paths
        resolve_config("realistic", {"response": "gamma:2.2", "highlight": "ramp", "highlight_threshold": 0.9,
                                     "boost": 3.0, "local": 1.0}),
        resolve_config("deblurgan", {"kernel": "line", "length": 4.0}),  # a direct (small) blur
    ]
    runs = {}
    for tier in ("never", "always"):
        monkeypatch.setenv("BLURKIT_JIT", tier)
        out = []
        for cfg in configs:
            for seed in range(3):
                d = sample_degradation(seed, cfg)
                k = torch.from_numpy(d.kernel)[None]
                out.append(apply_degradation(x, k, [d.record]).numpy())
                out.append(apply_degradation(x * 0.999, k, [d.record]).numpy())  # off the 8-bit grid
                out.append(degrade_image8(img, d.kernel, d.record))
        runs[tier] = out
    for a, b in zip(runs["never"], runs["always"], strict=True):
        assert a.tobytes() == b.tobytes()
