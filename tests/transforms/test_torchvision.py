"""TorchvisionBlur inside real v2.Compose pipelines: alignment, seeding, batches, devices."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

tv = pytest.importorskip("torchvision", reason="torchvision is not installed (pip install 'blurkit[torchvision]')")

import PIL.Image  # noqa: E402
from torchvision import tv_tensors  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from blurkit.synth import blur_image  # noqa: E402
from blurkit.transforms import TorchvisionBlur, apply_blur_tensor  # noqa: E402

STRONG = {"length": 25}


def blob(h: int = 96, w: int = 112, centre: tuple[float, float] = (50.0, 57.0)) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    g = torch.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * 3.0**2))
    return g.expand(3, h, w).clone()


def centroid(img: torch.Tensor) -> torch.Tensor:
    m = img.double().mean(dim=-3)
    yy, xx = torch.meshgrid(torch.arange(m.shape[-2]), torch.arange(m.shape[-1]), indexing="ij")
    return torch.stack([(m * yy).sum((-2, -1)), (m * xx).sum((-2, -1))], -1) / m.sum((-2, -1))[..., None]


def pipeline(preset: str = "deblurgan", overrides: dict | None = None, crop: int = 80, generator=None) -> v2.Compose:
    return v2.Compose(
        [
            v2.RandomCrop(crop),
            v2.RandomHorizontalFlip(),
            v2.RandomVerticalFlip(),
            TorchvisionBlur(preset, STRONG if overrides is None else overrides, generator=generator),
        ]
    )


def test_paired_pipeline_blurs_the_first_image_only_and_keeps_alignment() -> None:
    torch.manual_seed(0)
    img = tv_tensors.Image(blob())
    mask = tv_tensors.Mask((img[0] > 0.5).to(torch.uint8))
    aug = pipeline()
    for _ in range(4):
        blurred, sharp, m = aug(img, img.clone(), mask)
        assert isinstance(blurred, tv_tensors.Image) and isinstance(m, tv_tensors.Mask)
        assert blurred.shape == sharp.shape == (3, 80, 80)
        assert not torch.allclose(blurred, sharp, atol=1e-3)
        torch.testing.assert_close(m, (sharp[0] > 0.5).to(torch.uint8), check_dtype=True)
        torch.testing.assert_close(centroid(blurred), centroid(sharp), atol=0.05, rtol=0)


def test_output_equals_blur_image_for_the_drawn_seed() -> None:
    img = torch.rand(3, 40, 44)
    t = TorchvisionBlur("realistic")
    params = t.make_params([img])
    out = t.transform(img, params)
    (seed,) = params["seeds"]
    expected, kernel, record = blur_image(img.permute(1, 2, 0).numpy(), seed, "realistic")
    np.testing.assert_array_equal(out.permute(1, 2, 0).numpy(), expected)
    np.testing.assert_array_equal(params["kernels"][0], kernel)
    assert params["records"][0] == record


def test_forward_equals_make_params_then_transform() -> None:
    img = torch.rand(3, 32, 32)
    a = TorchvisionBlur("realistic", generator=torch.Generator().manual_seed(4))
    b = TorchvisionBlur("realistic", generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(a(img), b.transform(img, b.make_params([img])), atol=0, rtol=0)


def test_torch_seed_reproduces_a_pipeline_and_other_seeds_differ() -> None:
    img = tv_tensors.Image(torch.rand(3, 96, 96))

    def run(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        aug = pipeline("realistic", {})
        return [aug(img, img)[0] for _ in range(3)]

    a, b, c = run(7), run(7), run(8)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not any(torch.equal(x, y) for x, y in zip(a, c, strict=True))
    assert not torch.equal(a[0], a[1])


def test_own_generator_is_independent_of_the_global_one() -> None:
    img = torch.rand(3, 32, 32)
    outs = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        outs.append(TorchvisionBlur("deblurgan", generator=torch.Generator().manual_seed(3))(img))
    torch.testing.assert_close(outs[0], outs[1], atol=0, rtol=0)


def test_a_batch_gets_one_kernel_per_image() -> None:
    x = torch.rand(4, 3, 36, 36)
    t = TorchvisionBlur("realistic")
    params = t.make_params([x])
    assert len(set(params["seeds"])) == 4
    out = t.transform(x, params)
    for i, seed in enumerate(params["seeds"]):
        expected = blur_image(x[i].permute(1, 2, 0).numpy(), seed, "realistic")[0]
        np.testing.assert_allclose(out[i].permute(1, 2, 0).numpy(), expected, atol=2e-5)


def test_uint8_and_pil_images() -> None:
    x = (torch.rand(3, 30, 30) * 255).to(torch.uint8)
    t = TorchvisionBlur("deblurgan", {"length": 9})
    p = t.make_params([x])
    out = t.transform(x, p)
    assert out.dtype == torch.uint8
    ref = apply_blur_tensor(x.float() / 255, p["kernels"], p["records"])
    assert (out.int() - (ref * 255).round().int()).abs().max() <= 1
    pil = PIL.Image.fromarray(x.permute(1, 2, 0).numpy())
    out_pil = t.transform(pil, p)
    assert isinstance(out_pil, PIL.Image.Image)
    np.testing.assert_array_equal(np.asarray(out_pil), out.permute(1, 2, 0).numpy())


def test_plain_tensors_first_one_is_the_image() -> None:
    a, b = torch.rand(3, 30, 30), torch.rand(3, 30, 30)
    out_a, out_b = TorchvisionBlur("deblurgan", STRONG)(a, b)
    assert not torch.equal(out_a, a)
    assert out_b is b


def test_cpu_and_device_agree(device: str) -> None:
    x = torch.rand(3, 3, 40, 40)
    t = TorchvisionBlur("deblurgan", STRONG)
    p = t.make_params([x])
    cpu = t.transform(x, p)
    dev = t.transform(x.to(device), p)
    assert dev.device.type == device
    torch.testing.assert_close(dev.cpu(), cpu, atol=1e-4, rtol=0)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="unknown preset"):
        TorchvisionBlur("nope")
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        TorchvisionBlur("deblurgan")(tv_tensors.Image(torch.rand(1, 20, 20)))


def test_doctests() -> None:
    import blurkit.transforms._torchvision as mod

    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
