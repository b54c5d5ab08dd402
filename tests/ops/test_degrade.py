import numpy as np
import pytest
import torch

from blurkit.ops import (
    PRESETS,
    DegradeConfig,
    apply_degradation,
    degrade_batch,
    resolve_config,
    sample_degradation,
)
from blurkit.ops.color import from_linear, parse_response, to_linear
from blurkit.ops.convolve import convolve


def _images(b=2, h=48, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, h, w, generator=g)


@pytest.mark.parametrize("response", ["srgb", "gamma:2.2", "linear"])
def test_response_round_trip(response):
    x = torch.linspace(0, 1, 1001)
    np.testing.assert_allclose(from_linear(to_linear(x, response), response).numpy(), x.numpy(), atol=1e-5)


@pytest.mark.parametrize("response", ["srgb", "gamma:2.2", "linear"])
def test_response_curves_agree_on_arrays_and_tensors(response):
    x = np.linspace(-0.1, 1.1, 1201)
    lin = to_linear(x, response)
    assert isinstance(lin, np.ndarray) and isinstance(from_linear(lin, response), np.ndarray)
    np.testing.assert_allclose(lin, to_linear(torch.from_numpy(x), response).numpy(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(
        from_linear(lin, response), from_linear(torch.from_numpy(lin), response).numpy(), rtol=0, atol=1e-15
    )


def test_srgb_curve_reference_values():
    # IEC 61966-2-1: 0.5 display -> 0.21404 linear; 0.04045 is the knee
    x = torch.tensor([0.0, 0.04045, 0.5, 1.0], dtype=torch.float64)
    np.testing.assert_allclose(to_linear(x).numpy(), [0.0, 0.0031308, 0.2140411, 1.0], atol=1e-6)


def test_bad_response():
    with pytest.raises(ValueError, match="response"):
        parse_response("gamma:-1")
    with pytest.raises(ValueError, match="response"):
        DegradeConfig(response="log")


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_identity_kernel_without_noise_is_lossless(preset):
    x = _images()
    cfg = resolve_config(preset, {"length": 0.0, "shot": 0.0, "read": 0.0, "boost": 1.0, "jpeg_quality": None})
    y, k, _rec = degrade_batch(x, [1, 2], cfg)
    assert k.shape[-1] in (1, 3)
    assert (y - x).abs().max().item() <= 1 / 255


def test_same_seed_same_bytes_and_seeds_differ():
    x = _images()
    a = degrade_batch(x, [5, 6], "realistic")[0]
    b = degrade_batch(x, [5, 6], "realistic")[0]
    c = degrade_batch(x, [7, 6], "realistic")[0]
    assert torch.equal(a, b)
    assert not torch.equal(a[0], c[0])
    # a sample does not depend on its batch neighbours (up to float rounding: the FFT size follows
    # the batch's largest kernel; Poisson draws would turn rounding into whole counts, so no noise)
    quiet = {"shot": 0.0, "read": 0.0}
    a = degrade_batch(x, [5, 6], "realistic", quiet)[0]
    c = degrade_batch(x, [7, 6], "realistic", quiet)[0]
    torch.testing.assert_close(a[1], c[1], atol=1e-5, rtol=0)


def test_record_regenerates_the_output():
    x = _images(1)
    y, _k, rec = degrade_batch(x, [42], "realistic_jpeg")
    d = sample_degradation(42, PRESETS["realistic_jpeg"])
    assert d.record == rec[0]
    y2 = apply_degradation(x, torch.from_numpy(d.kernel)[None], [d.record])
    assert torch.equal(y, y2)


def test_blur_happens_in_linear_light():
    # a black/white edge blurred in linear light is brighter (in display values) than in display space
    x = torch.zeros(1, 3, 32, 32)
    x[..., 16:] = 1.0
    lin, _, _ = degrade_batch(x, [0], "deblurgan", {"response": "srgb", "kernel": "line", "length": 10.0, "angle": 0.0})
    disp, _, _ = degrade_batch(x, [0], "deblurgan", {"response": "linear", "kernel": "line", "length": 10.0, "angle": 0.0})
    assert lin.mean() > disp.mean() + 0.05


def test_highlight_boost_saturates_and_spreads():
    x = torch.full((1, 3, 40, 40), 0.2)
    x[..., 18:22, 18:22] = 1.0
    base = {"kernel": "line", "length": 12.0, "angle": 0.0, "shot": 0.0, "read": 0.0}
    plain, _, _ = degrade_batch(x, [0], "realistic", {**base, "boost": 1.0})
    boosted, _, _ = degrade_batch(x, [0], "realistic", {**base, "boost": 8.0})
    assert boosted.max() <= 1.0
    assert (boosted > 0.99).sum() > (plain > 0.99).sum()
    assert float(boosted.mean()) > float(plain.mean())  # the clipped radiance spreads into the streak


def test_noise_levels_follow_poisson_gaussian_variance():
    x = torch.full((1, 3, 200, 200), 0.5)
    cfg = {"length": 0.0, "shot": 0.01, "read": 0.02, "boost": 1.0, "response": "linear"}
    y, _, _rec = degrade_batch(x, [3], "realistic", cfg)
    var = float((y - 0.5).var())
    assert abs(var - (0.01 * 0.5 + 0.02**2)) / (0.01 * 0.5 + 0.02**2) < 0.05


def test_noise_is_log_uniform_within_range():
    cfg = PRESETS["realistic"]
    shots = [sample_degradation(s, cfg).record["shot"] for s in range(300)]
    assert min(shots) >= 1e-4 and max(shots) <= 1e-2
    assert 0.3 < np.mean(np.log10(shots) < -3) < 0.7  # median near the geometric middle


def test_jpeg_round_trip_changes_the_image():
    x = _images(1, 64, 64)
    y, _, rec = degrade_batch(x, [1], "realistic_jpeg", {"length": 0.0, "shot": 0.0, "read": 0.0, "boost": 1.0})
    assert 60 <= rec[0]["jpeg_quality"] <= 95
    assert 0 < (y - x).abs().mean() < 0.2


def test_line_and_bank_sources(tmp_path):
    from blurkit.kernels import line_kernel

    np.save(tmp_path / "bank.npy", np.stack([line_kernel(7, 0, size=9), line_kernel(5, 90, size=9)]))
    x = _images(3)
    _, _k, rec = degrade_batch(x, [1, 2, 3], "deblurgan", {"kernel": "bank", "bank": str(tmp_path / "bank.npy")})
    assert {r["bank_index"] for r in rec} <= {0, 1}
    _, _k, rec = degrade_batch(x, [1, 2, 3], "line")
    assert all(5 <= r["length"] <= 40 for r in rec)


def test_blur_matches_plain_convolution_for_deblurgan_preset():
    x = _images(2)
    y, k, _rec = degrade_batch(x, [8, 9], "deblurgan", {"length": 12.0})
    ref = convolve(x, k, border="reflect").clamp(0, 1)
    torch.testing.assert_close(y, ref, atol=1e-6, rtol=0)


def test_blurred_pairs_stay_aligned():
    # the centroid of a blurred impulse stays where the impulse was (kernels are centred)
    x = torch.zeros(4, 3, 96, 96)
    x[:, :, 48, 48] = 1.0
    y, _, _ = degrade_batch(x, [1, 2, 3, 4], "deblurgan", {"length": (20.0, 60.0)})
    ys, xs = torch.meshgrid(torch.arange(96.0), torch.arange(96.0), indexing="ij")
    m = y[:, 0]
    cy = (m * ys).sum(dim=(1, 2)) / m.sum(dim=(1, 2))
    cx = (m * xs).sum(dim=(1, 2)) / m.sum(dim=(1, 2))
    assert (cy - 48).abs().max() < 0.25 and (cx - 48).abs().max() < 0.25


@pytest.mark.parametrize(
    "overrides,name",
    [
        ({"lenght": 3}, "lenght"),
        ({"border": "mirror"}, "border"),
        ({"kernel": "disk"}, "kernel"),
        ({"kernel": "bank"}, "bank"),
        ({"shot": (0.1, 0.01)}, "shot"),
        ({"boost": 0.5}, "boost"),
        ({"jpeg_quality": (0, 50)}, "jpeg_quality"),
        ({"kernel_size": 8}, "size"),
        ({"highlight_threshold": 1.0}, "highlight_threshold"),
        ({"length": (5, 1)}, "length"),
    ],
)
def test_bad_config_names_the_field(overrides, name):
    with pytest.raises(ValueError, match=name):
        resolve_config("realistic", overrides)


def test_bad_calls():
    with pytest.raises(ValueError, match="preset"):
        resolve_config("nope")
    with pytest.raises(ValueError, match="seeds"):
        degrade_batch(_images(2), [1], "realistic")
    with pytest.raises(ValueError, match="seed"):
        sample_degradation(-1, PRESETS["realistic"])
    with pytest.raises(ValueError, match="sharp"):
        degrade_batch(torch.rand(3, 8, 8), [1], "realistic")


def test_config_round_trips_through_dict():
    cfg = PRESETS["realistic_jpeg"]
    assert DegradeConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_agree():
    x = _images(2, 64, 80)
    cfg = {"shot": 0.0, "read": 0.0}
    cpu, _k, _ = degrade_batch(x, [1, 2], "realistic", cfg)
    gpu, _, _ = degrade_batch(x.cuda(), [1, 2], "realistic", cfg)
    torch.testing.assert_close(gpu.cpu(), cpu, atol=2e-5, rtol=0)


def test_poisson_part_is_exact_at_low_counts_and_normal_at_high_counts():
    from scipy import stats

    from blurkit.ops.noise import NORMAL_APPROX_PHOTONS, poisson_gaussian

    g = torch.Generator().manual_seed(1)
    shot = 0.05  # 20 photons at full scale: exact Poisson draws
    y = poisson_gaussian(torch.full((200_000,), 0.5), shot, 0.0, g) / shot
    assert torch.allclose(y, y.round())  # integer photon counts
    counts = torch.bincount(y.long(), minlength=40)[:40].numpy()
    expected = stats.poisson.pmf(range(40), 10.0) * y.numel()
    assert stats.chisquare(counts[4:20], expected[4:20] * counts[4:20].sum() / expected[4:20].sum()).pvalue > 1e-3
    shot = 1e-3  # 1000 photons at full scale: the normal approximation
    lam = 0.5 / shot
    assert lam > NORMAL_APPROX_PHOTONS
    y = poisson_gaussian(torch.full((200_000,), 0.5), shot, 0.0, g) / shot
    assert abs(float(y.mean()) - lam) < 0.5 and abs(float(y.var()) / lam - 1) < 0.02


def _display_scene(seed=0):
    """8-bit display values with saturated highlights (255) beside mid tones."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (1, 3, 40, 48), generator=g).float()
    x[..., 10:20, 10:30] = 255.0
    x[..., 25:30, :, ] = 250.0  # bright, not clipped
    return x / 255.0


def test_clipped_highlight_boost_keeps_static_regions_equal():
    """Without motion (a 1-pixel kernel) the boosted, clipped scene is the sharp image again."""
    x = _display_scene()
    y, _, rec = degrade_batch(x, [3], "realistic", {"length": 0.0, "shot": 0.0, "read": 0.0, "boost": 4.0})
    assert rec[0]["highlight"] == "clipped" and rec[0]["boost"] == 4.0
    assert torch.equal(torch.round(y * 255), torch.round(x * 255))
    # the chain of blurkit 0.1 raised bright pixels that were not clipped: its static regions differ
    old, _, _ = degrade_batch(
        x, [3], "realistic",
        {"length": 0.0, "shot": 0.0, "read": 0.0, "boost": 4.0, "highlight": "ramp", "highlight_threshold": 0.9},
    )
    assert float((torch.round(old * 255) - torch.round(x * 255)).mean()) > 0.5


def test_configs_saved_before_the_highlight_field_keep_the_ramp():
    old = {k: v for k, v in PRESETS["realistic"].to_dict().items() if k != "highlight"}
    old["highlight_threshold"] = 0.9
    cfg = DegradeConfig.from_dict(old)
    assert cfg.highlight == "ramp" and cfg.highlight_threshold == 0.9
    x = _display_scene(1)
    ramp = DegradeConfig(length=(10.0, 10.0), boost=(3.0, 3.0), highlight="ramp", highlight_threshold=0.9)
    d = sample_degradation(5, ramp)
    legacy = dict(d.record)
    legacy.pop("highlight")  # a record written before the field existed
    k = torch.from_numpy(d.kernel)[None]
    assert torch.equal(apply_degradation(x, k, [legacy]), apply_degradation(x, k, [d.record]))
    with pytest.raises(ValueError, match="highlight"):
        DegradeConfig(highlight="glow")


def test_video_preset_adds_no_noise():
    cfg = PRESETS["video"]
    assert cfg.shot == (0.0, 0.0) and cfg.read == (0.0, 0.0) and cfg.jpeg_quality is None
    assert cfg.response == "srgb" and cfg.boost[1] > 1.0


def test_local_blur_leaves_the_rest_of_the_scene_sharp():
    from blurkit.ops.degrade import local_mask

    x = _images(1, 64, 80)
    over = {"length": 20.0, "shot": 0.0, "read": 0.0, "boost": 1.0, "local": 1.0}
    y, _, rec = degrade_batch(x, [4], "realistic", over)
    assert rec[0]["local"] is True
    mask = local_mask(rec[0]["local_seed"], 64, 80)
    assert torch.equal(local_mask(rec[0]["local_seed"], 64, 80), mask)
    outside, inside = mask == 0, mask == 1
    assert outside.any() and inside.any()
    assert torch.allclose(y[0][:, outside], x[0][:, outside], atol=1e-5)  # static: untouched
    full, _, _ = degrade_batch(x, [4], "realistic", {**over, "local": 0.0})
    assert float((y[0][:, inside] - x[0][:, inside]).abs().mean()) > 0.05  # blurred inside
    # the other draws do not depend on the local option
    assert {k: v for k, v in rec[0].items() if k not in ("local", "local_seed")} == sample_degradation(
        4, resolve_config("realistic", {**over, "local": 0.0})
    ).record
    assert not torch.equal(full, y)
    with pytest.raises(ValueError, match="local"):
        DegradeConfig(local=1.5)
