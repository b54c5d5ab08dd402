"""Tests of blurkit.ops.convolve against an independent float64 SciPy reference, plus properties."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import scipy.signal
import torch

from blurkit.ops.convolve import (
    FFT_CROSSOVER_CPU,
    FFT_CROSSOVER_CUDA,
    Convolve,
    ConvolveConfig,
    convolve,
    fast_fft_len,
    fft_crossover,
    valid_mask,
)

BORDERS = ["reflect", "replicate", "zero", "circular"]
METHODS = ["direct", "fft"]
NUMPY_PAD = {"reflect": "reflect", "replicate": "edge", "zero": "constant", "circular": "wrap"}

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def reference(images: np.ndarray, kernels: np.ndarray, border: str) -> np.ndarray:
    """float64 convolution: np.pad with the named mode, then scipy.signal.convolve2d(mode='valid')."""
    pad = kernels.shape[-1] // 2
    out = np.empty(images.shape, dtype=np.float64)
    for b in range(images.shape[0]):
        for c in range(images.shape[1]):
            padded = np.pad(images[b, c].astype(np.float64), pad, mode=NUMPY_PAD[border])
            out[b, c] = scipy.signal.convolve2d(padded, kernels[b].astype(np.float64), mode="valid")
    return out


def random_kernels(rng: np.random.Generator, batch: int, k: int) -> np.ndarray:
    kern = rng.random((batch, k, k))
    return kern / kern.sum(axis=(1, 2), keepdims=True)


@pytest.fixture(params=["numpy", "torch"])
def cpu_fft_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with each CPU FFT backend (scipy.fft without autograd, torch.fft otherwise)."""
    module = importlib.import_module("blurkit.ops.convolve")  # the module, not the re-exported function
    monkeypatch.setattr(module, "_NUMPY_FFT", request.param == "numpy")
    return request.param


@pytest.mark.parametrize("k", [1, 3, 7, 15, 31])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("border", BORDERS)
def test_matches_scipy_reference(
    rng: np.random.Generator, border: str, method: str, k: int, cpu_fft_backend: str
) -> None:
    if method == "direct" and cpu_fft_backend == "torch":
        pytest.skip("the FFT backend does not matter for the direct method")
    images = rng.random((3, 2, 37, 50))
    kernels = random_kernels(rng, 3, k)
    out = convolve(torch.from_numpy(images).float(), torch.from_numpy(kernels).float(), border, method)
    assert out.dtype == torch.float32
    assert out.shape == images.shape
    np.testing.assert_allclose(out.double().numpy(), reference(images, kernels, border), atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("border", BORDERS)
def test_sparse_kernel_with_offcentre_support(
    rng: np.random.Generator, border: str, method: str, cpu_fft_backend: str
) -> None:
    # Support cropping must keep an asymmetric support in the right place.
    images = rng.random((2, 3, 20, 33))
    kernels = np.zeros((2, 15, 15))
    kernels[0, 7, 9:12] = [0.2, 0.5, 0.3]
    kernels[1, 2:5, 6] = [0.6, 0.3, 0.1]
    out = convolve(torch.from_numpy(images), kernels, border, method)
    np.testing.assert_allclose(out.numpy(), reference(images, kernels, border), atol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_float64_is_computed_in_float64(rng: np.random.Generator, method: str, cpu_fft_backend: str) -> None:
    images = rng.random((1, 1, 24, 19))
    kernels = random_kernels(rng, 1, 9)
    out = convolve(torch.from_numpy(images), torch.from_numpy(kernels), "reflect", method)
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), reference(images, kernels, "reflect"), atol=1e-12)


@pytest.mark.parametrize(("height", "width", "k"), [(9, 11, 31), (5, 8, 11), (5, 5, 11), (6, 9, 13)])
@pytest.mark.parametrize("method", METHODS)
def test_circular_kernel_as_large_as_image_is_periodic(
    rng: np.random.Generator, method: str, height: int, width: int, k: int
) -> None:
    image = rng.random((height, width))
    kernel = rng.random((k, k))
    out = convolve(torch.from_numpy(image), kernel, "circular", method)
    # Reference: convolve a 9x9 tiling of the image and read the central tile.
    full = scipy.signal.convolve2d(np.tile(image, (9, 9)), kernel, mode="same")
    expected = full[4 * height : 5 * height, 4 * width : 5 * width]
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_true_convolution_not_correlation(method: str) -> None:
    image = torch.zeros(1, 1, 9, 9)
    image[0, 0, 4, 4] = 1.0
    kernel = torch.zeros(5, 5)
    kernel[2 - 2, 2 + 1] = 1.0  # offset (-2 rows, +1 column) from the centre
    out = convolve(image, kernel, border="zero", method=method)
    peak = divmod(int(out.flatten().argmax()), 9)
    # Convolution moves the impulse by the kernel offset (correlation would move it the other way).
    assert peak == (2, 5)
    assert out.sum().item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("border", BORDERS)
def test_delta_kernel_is_identity(rng: np.random.Generator, border: str, method: str) -> None:
    images = torch.from_numpy(rng.random((2, 3, 16, 21))).float()
    delta = torch.zeros(2, 7, 7)
    delta[:, 3, 3] = 1.0
    out = convolve(images, delta, border, method)
    torch.testing.assert_close(out, images, atol=1e-6, rtol=0)


@pytest.mark.parametrize("k", [3, 9, 21])
def test_direct_equals_fft(rng: np.random.Generator, k: int) -> None:
    images = torch.from_numpy(rng.random((4, 3, 31, 45))).float()
    kernels = torch.from_numpy(random_kernels(rng, 4, k)).float()
    for border in BORDERS:
        a = convolve(images, kernels, border, "direct")
        b = convolve(images, kernels, border, "fft")
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", METHODS)
def test_circular_preserves_mass(rng: np.random.Generator, method: str) -> None:
    images = torch.from_numpy(rng.random((3, 2, 25, 40)))
    kernels = torch.from_numpy(random_kernels(rng, 3, 11))
    out = convolve(images, kernels, "circular", method)
    torch.testing.assert_close(out.sum(dim=(-1, -2)), images.sum(dim=(-1, -2)), atol=1e-9, rtol=0)


@pytest.mark.parametrize("method", METHODS)
def test_shared_kernel_broadcasts(rng: np.random.Generator, method: str) -> None:
    images = torch.from_numpy(rng.random((4, 3, 20, 26))).float()
    kernel = torch.from_numpy(random_kernels(rng, 1, 7)[0]).float()
    shared = convolve(images, kernel, "reflect", method)
    stacked = convolve(images, kernel.expand(4, 7, 7), "reflect", method)
    torch.testing.assert_close(shared, stacked, atol=1e-6, rtol=0)


def test_unbatched_shapes_and_numpy_kernel(rng: np.random.Generator) -> None:
    kernel = random_kernels(rng, 1, 5)[0]
    gray = torch.from_numpy(rng.random((12, 17))).float()
    chw = torch.from_numpy(rng.random((3, 12, 17))).float()
    out2, mask2 = convolve(gray, kernel, return_mask=True)
    out3, mask3 = convolve(chw, kernel, return_mask=True)
    assert out2.shape == (12, 17) and mask2.shape == (12, 17)
    assert out3.shape == (3, 12, 17) and mask3.shape == (1, 12, 17)
    expected = reference(gray.double().numpy()[None, None], kernel[None], "reflect")[0, 0]
    np.testing.assert_allclose(out2.double().numpy(), expected, atol=1e-5)
    # a (1, k, k) stack also works for a single image
    torch.testing.assert_close(convolve(chw, torch.from_numpy(kernel[None]).float()), out3)


def test_mask_follows_each_kernel_support() -> None:
    kernels = torch.zeros(3, 9, 9)
    kernels[0, 4, 4] = 1.0  # delta: everything valid
    kernels[1, 4, 6:9] = 1.0 / 3  # columns +2..+4 right of centre
    kernels[2] = 1.0 / 81  # full 9x9 support: 4 pixels on every side
    _, mask = convolve(torch.rand(3, 2, 10, 14), kernels, return_mask=True)
    assert mask.shape == (3, 1, 10, 14) and mask.dtype == torch.bool
    assert bool(mask[0].all())
    # out[j] reads columns j-4 .. j-2: valid for j >= 4; rows unaffected.
    expected1 = torch.zeros(10, 14, dtype=torch.bool)
    expected1[:, 4:] = True
    assert torch.equal(mask[1, 0], expected1)
    expected2 = torch.zeros(10, 14, dtype=torch.bool)
    expected2[4:6, 4:10] = True
    assert torch.equal(mask[2, 0], expected2)
    assert torch.equal(valid_mask(kernels, 10, 14), mask)


def test_mask_matches_where_padding_does_not_matter(rng: np.random.Generator) -> None:
    # Inside the mask the result must not depend on the border mode.
    images = torch.from_numpy(rng.random((2, 1, 30, 30)))
    kernels = torch.zeros(2, 11, 11, dtype=torch.float64)
    kernels[0, 5, 0:6] = 1 / 6
    kernels[1, 2:9, 5] = 1 / 7
    outs = {}
    for border in BORDERS:
        outs[border], mask = convolve(images, kernels, border, return_mask=True)
    for border in BORDERS[1:]:
        assert torch.allclose(outs[border][mask.expand_as(images)], outs["reflect"][mask.expand_as(images)])
        assert not torch.allclose(outs[border], outs["reflect"])


def test_shared_kernel_mask_has_batch_shape() -> None:
    kernel = torch.ones(3, 3) / 9
    _, mask = convolve(torch.rand(5, 3, 8, 8), kernel, return_mask=True)
    assert mask.shape == (5, 1, 8, 8)
    assert int(mask[0, 0].sum()) == 36


def test_all_zero_kernel_gives_zeros_and_full_mask() -> None:
    out, mask = convolve(torch.rand(1, 1, 6, 6), torch.zeros(1, 7, 7), method="fft", return_mask=True)
    assert torch.count_nonzero(out) == 0
    assert bool(mask.all())


def test_half_precision_on_cpu_is_computed_in_float32(rng: np.random.Generator) -> None:
    images = torch.from_numpy(rng.random((1, 3, 16, 16))).float()
    kernels = torch.from_numpy(random_kernels(rng, 1, 9)).float()
    for dtype in (torch.float16, torch.bfloat16):
        out = convolve(images.to(dtype), kernels, method="fft")
        assert out.dtype == dtype
        torch.testing.assert_close(
            out.float(), convolve(images.to(dtype).float(), kernels), atol=1e-2, rtol=0
        )


def test_auto_picks_by_size_and_agrees(rng: np.random.Generator) -> None:
    assert fft_crossover("cpu") == FFT_CROSSOVER_CPU
    assert fft_crossover("cuda") == FFT_CROSSOVER_CUDA
    images = torch.from_numpy(rng.random((2, 3, 40, 40))).float()
    for k in (3, 25):
        kernels = torch.from_numpy(random_kernels(rng, 2, k)).float()
        torch.testing.assert_close(convolve(images, kernels), convolve(images, kernels, method="direct"))


def test_fast_fft_len() -> None:
    for device in ("cpu", "cuda"):
        for n in (1, 2, 3, 17, 97, 750, 1310, 1342, 4097):
            m = fast_fft_len(n, device)
            assert n <= m <= max(2, 1.1 * n + 16) and m % 2 == 0
            r = m
            for p in (2, 3, 5, 7):
                while r % p == 0:
                    r //= p
            assert r == 1
    assert fast_fft_len(750, "cuda") == 750  # smallest on CUDA
    assert fast_fft_len(750, "cpu") == 768  # long radix-2 runs preferred on CPU


def test_module_wrapper_equals_function(rng: np.random.Generator) -> None:
    images = torch.from_numpy(rng.random((2, 3, 18, 22))).float()
    kernels = torch.from_numpy(random_kernels(rng, 2, 9)).float()
    module = Convolve(border="circular", method="fft")
    assert module.config == ConvolveConfig(border="circular", method="fft")
    torch.testing.assert_close(module(images, kernels), convolve(images, kernels, "circular", "fft"))
    with pytest.raises(AttributeError):
        module.config.border = "zero"  # type: ignore[misc]
    with pytest.raises(ValueError, match="border"):
        Convolve(border="mirror")  # type: ignore[arg-type]


def test_gradients_flow() -> None:
    images = torch.rand(1, 1, 6, 7, dtype=torch.float64, requires_grad=True)
    kernels = torch.rand(1, 3, 3, dtype=torch.float64, requires_grad=True)
    for method in METHODS:
        assert torch.autograd.gradcheck(
            lambda x, k, m=method: convolve(x, k, "reflect", m),
            (images, kernels),
            eps=1e-6,
            atol=1e-5,
            fast_mode=True,
        )


@pytest.mark.parametrize(
    ("images", "kernels", "kwargs", "name"),
    [
        (torch.rand(1, 1, 1, 8, 8), torch.ones(3, 3), {}, "images"),
        (torch.rand(8), torch.ones(3, 3), {}, "images"),
        (torch.zeros(8, 8, dtype=torch.int64), torch.ones(3, 3), {}, "images"),
        (torch.rand(8, 8), torch.ones(4, 4), {}, "kernels"),
        (torch.rand(8, 8), torch.ones(3, 5), {}, "kernels"),
        (torch.rand(8, 8), torch.ones(1, 1, 3, 3), {}, "kernels"),
        (torch.rand(2, 3, 8, 8), torch.ones(3, 3, 3), {}, "kernels"),
        (torch.rand(2, 3, 8, 8), torch.ones(2, 17, 17), {"border": "reflect"}, "kernels"),
        (torch.rand(8, 8), torch.ones(3, 3), {"border": "mirror"}, "border"),
        (torch.rand(8, 8), torch.ones(3, 3), {"method": "winograd"}, "method"),
    ],
)
def test_bad_inputs_raise_value_error(images, kernels, kwargs, name) -> None:
    with pytest.raises(ValueError, match=name):
        convolve(images, kernels, **kwargs)


def test_bad_values_are_named_in_message() -> None:
    with pytest.raises(ValueError, match="'mirror'"):
        convolve(torch.rand(8, 8), torch.ones(3, 3), border="mirror")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k=4"):
        convolve(torch.rand(8, 8), torch.ones(4, 4))


def test_reflect_limit_uses_cropped_support() -> None:
    # A 17x17 canvas whose support is 3x3 fits an 8x8 image with reflect padding.
    kernel = torch.zeros(17, 17)
    kernel[7:10, 7:10] = 1 / 9
    out = convolve(torch.rand(1, 1, 8, 8), kernel, border="reflect")
    assert out.shape == (1, 1, 8, 8)


def test_cpu_chunking_is_exact(rng: np.random.Generator, monkeypatch, cpu_fft_backend: str) -> None:
    images = torch.from_numpy(rng.random((5, 2, 21, 30))).float()
    kernels = torch.from_numpy(random_kernels(rng, 5, 9)).float()
    whole = convolve(images, kernels, "replicate", "fft")
    monkeypatch.setattr(importlib.import_module("blurkit.ops.convolve"), "FFT_CHUNK_BYTES", 1)
    torch.testing.assert_close(convolve(images, kernels, "replicate", "fft"), whole, atol=1e-6, rtol=0)


@requires_cuda
@pytest.mark.parametrize("border", BORDERS)
def test_cuda_matches_cpu(rng: np.random.Generator, border: str) -> None:
    images = torch.from_numpy(rng.random((5, 3, 64, 90))).float()
    kernels = torch.from_numpy(random_kernels(rng, 5, 31)).float()
    expected = convolve(images, kernels, border, "fft")
    for method in ("direct", "fft", "auto"):
        got = convolve(images.cuda(), kernels.cuda(), border, method)
        assert got.device.type == "cuda"
        torch.testing.assert_close(got.cpu(), expected, atol=2e-5, rtol=0)
    for dtype, tol in ((torch.float16, 5e-3), (torch.bfloat16, 3e-2)):
        for method in ("direct", "fft"):
            got = convolve(images.cuda().to(dtype), kernels.cuda(), border, method)
            assert got.dtype == dtype
            torch.testing.assert_close(got.float().cpu(), expected, atol=tol, rtol=0)


@requires_cuda
def test_cuda_large_batch_is_chunked_and_correct(rng: np.random.Generator, monkeypatch) -> None:
    module = importlib.import_module("blurkit.ops.convolve")
    monkeypatch.setattr(module, "FFT_CHUNK_BYTES", 1)  # one sample per chunk
    images = torch.from_numpy(rng.random((7, 3, 40, 52))).float().cuda()
    kernels = torch.from_numpy(random_kernels(rng, 7, 15)).float().cuda()
    got = convolve(images, kernels, "reflect", "fft")
    expected = reference(images.double().cpu().numpy(), kernels.double().cpu().numpy(), "reflect")
    np.testing.assert_allclose(got.double().cpu().numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("border", ["reflect", "replicate", "zero", "circular"])
def test_grid_padding_is_numpys_for_every_border_and_size(border):
    from blurkit.ops._blur_np import pad_grid
    from blurkit.ops.borders import NUMPY_PAD_MODE

    rng = np.random.default_rng(5)
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(1, 24, 2))
        top, left = int(rng.integers(0, h + 1)), int(rng.integers(0, w + 1))
        bottom, right = int(rng.integers(0, 2 * h + 3)), int(rng.integers(0, 2 * w + 3))
        for dtype in (np.float32, np.float64):
            x = rng.random((2, 3, h, w)).astype(dtype)
            expected = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=NUMPY_PAD_MODE[border])
            got = pad_grid(x, top, bottom, left, right, border)
            assert got.dtype == dtype and np.array_equal(got, expected), (h, w, top, bottom, left, right)
    view = rng.random((1, 3, 9, 12), dtype=np.float32)[:, :, ::2, 1:]
    assert np.array_equal(pad_grid(view, 2, 3, 1, 4, border), np.pad(view, ((0, 0), (0, 0), (2, 3), (1, 4)), mode=NUMPY_PAD_MODE[border]))
