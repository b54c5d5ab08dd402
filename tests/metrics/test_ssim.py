import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.metrics import structural_similarity

from blurkit.metrics import ssim
from blurkit.metrics.ssim import channel_mixing_matrix, ssim_values

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def skimage_ssim(a, b):
    return structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
        channel_axis=-1 if a.ndim == 3 else None,
    )


def reference_ssim_map(x, y, filt):
    """The textbook five-moment SSIM map in float64 (Wang et al. 2004)."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    mx, my = filt(x), filt(y)
    vx, vy, cxy = filt(x * x) - mx * mx, filt(y * y) - my * my, filt(x * y) - mx * my
    return ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2))


def reference_skimage_window(x, y):
    """Explicit 11 taps, correlate1d per axis, 5-pixel border dropped, mean over channels."""
    t = np.arange(-5, 6)
    w = np.exp(-(t**2) / (2 * 1.5**2))
    w /= w.sum()

    def filt(img):
        return ndimage.correlate1d(ndimage.correlate1d(img, w, axis=0, mode="mirror"), w, axis=1, mode="mirror")

    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    maps = [reference_ssim_map(x[..., c], y[..., c], filt)[5:-5, 5:-5].mean() for c in range(x.shape[2])]
    return float(np.mean(maps))


def reference_matlab(x, y):
    """MATLAB ssim on an N-D array: N-D Gaussian (σ 1.5, 11 taps per axis), replicate padding, no crop."""

    def filt(img):
        return ndimage.gaussian_filter(img, sigma=1.5, truncate=5 / 1.5, mode="nearest")

    return float(reference_ssim_map(x, y, filt).mean())


def y_channel(img):
    return 16 + img.astype(np.float64) @ (np.array([65.481, 128.553, 24.966]) / 255)


@pytest.mark.parametrize("shape", [(48, 64, 3), (37, 23, 3), (40, 40)])
def test_skimage_variant_matches_skimage(rng, shape, image):
    a = image(rng, *shape[:2])
    b = np.clip(a.astype(int) + rng.integers(-25, 26, a.shape), 0, 255).astype(np.uint8)
    if len(shape) == 2:
        a, b = a[..., 0], b[..., 0]
    expected = skimage_ssim(a, b)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-6)
    assert ssim(a, b, precision="float64") == pytest.approx(expected, abs=1e-12)
    assert reference_skimage_window(a, b) == pytest.approx(expected, abs=1e-12)


def test_real_pair_all_variants(real_pair):
    blur, sharp = real_pair
    assert ssim(blur, sharp) == pytest.approx(skimage_ssim(blur, sharp), abs=1e-6)
    m3 = ssim(blur, sharp, "matlab3d")
    assert m3 == pytest.approx(reference_matlab(blur, sharp), abs=1e-6)
    ya, yb = y_channel(blur), y_channel(sharp)
    assert ssim(blur, sharp, "skimage_y") == pytest.approx(reference_skimage_window(ya, yb), abs=1e-6)
    assert ssim(blur, sharp, "matlab_y") == pytest.approx(reference_matlab(ya, yb), abs=1e-6)
    # the variants are genuinely different numbers on the same real pair
    assert abs(m3 - ssim(blur, sharp)) > 0.005
    assert 0.3 < ssim(blur, sharp) < 0.99


@pytest.mark.parametrize("variant", ["matlab3d", "matlab_y", "skimage_y"])
def test_other_variants_against_references(rng, variant, image):
    a = image(rng, 30, 41)
    b = image(rng, 30, 41)
    if variant == "matlab3d":
        expected = reference_matlab(a, b)
    elif variant == "matlab_y":
        expected = reference_matlab(y_channel(a), y_channel(b))
    else:
        expected = reference_skimage_window(y_channel(a), y_channel(b))
    assert ssim(a, b, variant) == pytest.approx(expected, abs=1e-6)
    assert ssim(a, b, variant, precision="float64") == pytest.approx(expected, abs=1e-10)


def test_channel_mixing_matrix_replicates():
    m = channel_mixing_matrix(3)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    assert m[0, 0] > m[0, 2] and m[2, 2] > m[2, 0]
    np.testing.assert_allclose(channel_mixing_matrix(1), [[1.0]])


@pytest.mark.parametrize("window", ["skimage", "matlab"])
def test_torch_and_opencv_backends_agree(rng, window, image):
    a = torch.from_numpy(np.stack([image(rng) for _ in range(2)])).permute(0, 3, 1, 2).double()
    b = torch.from_numpy(np.stack([image(rng) for _ in range(2)])).permute(0, 3, 1, 2).double()
    t = ssim_values(a, b, window, precision="float64", backend="torch")
    o = ssim_values(a, b, window, precision="float64", backend="opencv")
    np.testing.assert_allclose(t.numpy(), o.numpy(), atol=1e-12)


def test_batches_and_layouts(rng, image):
    a = np.stack([image(rng) for _ in range(3)])
    b = np.stack([image(rng) for _ in range(3)])
    batch = ssim(a, b)
    np.testing.assert_allclose(batch, [skimage_ssim(a[i], b[i]) for i in range(3)], atol=1e-6)
    t = ssim(torch.from_numpy(a).permute(0, 3, 1, 2), torch.from_numpy(b).permute(0, 3, 1, 2))
    np.testing.assert_allclose(t.numpy(), batch, atol=1e-9)
    assert ssim(a[0] / 255.0, b[0] / 255.0) == pytest.approx(batch[0], abs=1e-9)


def test_strided_and_flipped_views_score_as_their_copies(rng, image):
    a = image(rng, 64, 96)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    for view in (np.s_[:, ::2], np.s_[::-1, :, ::-1], np.s_[3:50, 7:90]):
        va, vb = a[view], b[view]
        assert ssim(va, vb) == ssim(np.ascontiguousarray(va), np.ascontiguousarray(vb))
        assert ssim(va, vb) == pytest.approx(skimage_ssim(va, vb), abs=1e-6)


def test_bad_inputs(rng, image):
    a = image(rng)
    with pytest.raises(ValueError, match=r"\(48, 64, 3\) vs \(47, 64, 3\)"):
        ssim(a, a[:47])
    with pytest.raises(ValueError, match="unknown SSIM variant 'matlab'"):
        ssim(a, a, "matlab")
    with pytest.raises(ValueError, match="smaller than the 11×11 SSIM window"):
        ssim(a[:8, :8], a[:8, :8])
    with pytest.raises(ValueError, match="needs RGB"):
        ssim(a[..., 0], a[..., 0], "skimage_y")
    with pytest.raises(ValueError, match="precision"):
        ssim(a, a, precision="float16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("variant", ["skimage", "matlab3d", "matlab_y"])
def test_cuda_matches_cpu(rng, variant, image):
    # noisy pairs: small variances make any reduced-precision (TF32) convolution visible
    a = np.stack([image(rng, 64, 96) for _ in range(2)])
    b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    ta, tb = torch.from_numpy(a).permute(0, 3, 1, 2), torch.from_numpy(b).permute(0, 3, 1, 2)
    gpu = ssim(ta.cuda(), tb.cuda(), variant)
    assert gpu.device.type == "cuda"
    np.testing.assert_allclose(gpu.cpu().numpy(), ssim(a, b, variant), atol=1e-6)
