import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from blurkit.metrics import psnr


def test_matches_skimage_uint8(rng, image):
    a = image(rng)
    b = np.clip(a.astype(int) + rng.integers(-12, 13, a.shape), 0, 255).astype(np.uint8)
    assert psnr(b, a) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-10)


def test_real_pair_against_skimage(real_pair):
    blur, sharp = real_pair
    value = psnr(blur, sharp)
    assert value == pytest.approx(peak_signal_noise_ratio(sharp, blur, data_range=255), abs=1e-10)
    assert 15 < value < 45  # a real blur: worse than a copy, better than noise


def test_independent_float64_reference(rng, image):
    a = image(rng, 33, 21)
    b = image(rng, 33, 21)
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-10)


def test_identical_is_inf(rng, image):
    a = image(rng)
    assert psnr(a, a.copy()) == math.inf
    assert math.isinf(psnr(a.astype(np.float32) / 255, a.astype(np.float32) / 255))


def test_float_inputs_are_rounded_to_8_bit(rng, image):
    a = image(rng)
    b = image(rng)
    af, bf = a / 255.0 + 0.001, b / 255.0 - 0.0015  # sub-level offsets vanish after rounding
    assert psnr(af, bf) == pytest.approx(psnr(a, b), abs=1e-12)
    assert psnr(af, bf, quantize=False) != pytest.approx(psnr(a, b), abs=1e-6)


def test_batches_numpy_and_torch_agree(rng, image):
    a = np.stack([image(rng) for _ in range(3)])
    b = np.stack([image(rng) for _ in range(3)])
    batch = psnr(a, b)
    assert batch.shape == (3,)
    np.testing.assert_allclose(batch, [psnr(a[i], b[i]) for i in range(3)], rtol=0, atol=1e-12)
    t = psnr(torch.from_numpy(a).permute(0, 3, 1, 2), torch.from_numpy(b).permute(0, 3, 1, 2))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64
    np.testing.assert_allclose(t.numpy(), batch, atol=1e-12)


@pytest.mark.parametrize("variant", ["y", "luma"])
def test_luma_variants(rng, variant, image):
    a = image(rng).astype(np.float64)
    b = image(rng).astype(np.float64)
    if variant == "y":
        w, off = np.array([65.481, 128.553, 24.966]) / 255, 16.0
    else:
        w, off = np.array([0.299, 0.587, 0.114]), 0.0
    ya, yb = a @ w + off, b @ w + off
    expected = 10 * math.log10(255**2 / np.mean((ya - yb) ** 2))
    assert psnr(a.astype(np.uint8), b.astype(np.uint8), variant=variant) == pytest.approx(expected, abs=1e-9)


def test_bad_inputs(rng, image):
    a = image(rng)
    with pytest.raises(ValueError, match=r"\(48, 64, 3\).*\(48, 60, 3\)"):
        psnr(a, a[:, :60])
    with pytest.raises(ValueError, match="dtype mismatch"):
        psnr(a, a.astype(np.float32))
    with pytest.raises(ValueError, match="two NumPy arrays or two torch tensors"):
        psnr(a, torch.from_numpy(a))
    with pytest.raises(ValueError, match="unknown PSNR variant 'ycbcr'"):
        psnr(a, a, variant="ycbcr")
    with pytest.raises(ValueError, match="non-finite"):
        psnr(np.full((4, 4, 3), np.nan), np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="unsupported dtype int16"):
        psnr(a.astype(np.int16), a.astype(np.int16))
    with pytest.raises(ValueError, match="unsupported input"):
        psnr(a[None, None], a[None, None])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(rng, image):
    a = torch.from_numpy(np.stack([image(rng) for _ in range(2)])).permute(0, 3, 1, 2)
    b = torch.from_numpy(np.stack([image(rng) for _ in range(2)])).permute(0, 3, 1, 2)
    gpu = psnr(a.cuda(), b.cuda())
    assert gpu.device.type == "cuda"
    np.testing.assert_allclose(gpu.cpu().numpy(), psnr(a, b).numpy(), atol=1e-10)
