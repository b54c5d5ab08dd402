"""CPU and CUDA agree for the three model families: restored images, the RNN's scan (values and
gradients), short training runs, and the latency measurement ``benchmarks.model_compare`` reports.
Skipped without CUDA; the CPU side of each comparison is what the other model tests check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import randomize, tiny_data

from models import load_deblurrer
from models.archs import deblurgan, deblurganv2, scan, svrnn
from models.families import deblurgan as deblurgan_family
from models.families import deblurganv2 as deblurganv2_family
from models.families import svrnn as svrnn_family
from models.training.config import config_from_dict
from models.training.loop import train

pytestmark = pytest.mark.gpu


@pytest.fixture
def gpu() -> str:
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    return "cuda"


@pytest.fixture(autouse=True)
def full_float32() -> Iterator[None]:
    """Compare in float32: TF32 would round convolution and matmul inputs to 10 mantissa bits."""
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def small_checkpoint(family: str, folder: Path) -> Path:
    """A small generator of ``family`` with random (non-identity) weights, saved in float32."""
    path = folder / f"{family}.pt"
    torch.manual_seed(0)
    if family == "deblurgan":
        net = randomize(deblurgan.Generator(deblurgan.GeneratorConfig(base_channels=8, n_blocks=2)), std=0.05)
        deblurgan_family.save_generator(net, path, half=False)
    elif family == "deblurganv2":
        cfg = deblurganv2.FPNMobileNetConfig(width_mult=0.35, fpn_channels=16, head_channels=8, pretrained=False)
        net = randomize(deblurganv2.FPNMobileNet(cfg), std=0.05)
        deblurganv2_family.save_generator(net, path, half=False)
    else:
        cfg = svrnn.SVRNNConfig(base_channels=4, rnn_channels=4, n_rnn=1)
        svrnn_family.save_generator(randomize(svrnn.SVRNN(cfg), std=0.05), path, half=False)
    return path


FAMILIES = ("deblurgan", "deblurganv2", "svrnn")


@pytest.mark.parametrize("family", FAMILIES)
def test_restored_images_agree(family: str, gpu: str, tmp_path: Path) -> None:
    spec = str(small_checkpoint(family, tmp_path))
    x = torch.rand(2, 3, 45, 70, generator=torch.Generator().manual_seed(1))  # odd sizes: padding
    cpu = load_deblurrer(spec, device="cpu")(x)
    cuda = load_deblurrer(spec, device=gpu)(x.to(gpu))
    assert cuda.device.type == "cuda" and cuda.shape == cpu.shape == x.shape
    assert (cpu - x).abs().mean() > 1e-3  # the random weights do change the image
    torch.testing.assert_close(cuda.cpu(), cpu, rtol=0, atol=2e-4)


def test_scan_values_and_gradients_agree(gpu: str) -> None:
    g = torch.Generator().manual_seed(2)
    a = (torch.rand(2, 4, 8, 37, generator=g) * 2 - 1) * 0.99
    b = torch.randn(2, 4, 8, 37, generator=g)
    upstream = torch.randn(2, 4, 8, 37, generator=g)
    results = []
    for device, scan_fn in (("cpu", scan.linear_scan_loop), (gpu, scan.linear_scan)):
        pa = a.clone().to(device).requires_grad_(True)
        pb = b.clone().to(device).requires_grad_(True)
        h = scan_fn(pa, pb, -1)
        (h * upstream.to(device)).sum().backward()
        assert pa.grad is not None and pb.grad is not None
        results.append((h.detach().cpu(), pa.grad.cpu(), pb.grad.cpu()))
    for cpu, cuda in zip(*results, strict=True):
        torch.testing.assert_close(cuda, cpu, rtol=1e-4, atol=1e-5)


def _raw(family: str, pairs: Path, amp: bool) -> dict[str, Any]:
    generator = {
        "deblurgan": {"base_channels": 4, "n_blocks": 1, "dropout": 0.0},
        "deblurganv2": {"width_mult": 0.35, "fpn_channels": 16, "head_channels": 8, "pretrained": False},
        "svrnn": {"base_channels": 4, "rnn_channels": 4, "n_rnn": 1},
    }[family]
    raw: dict[str, Any] = {
        "model": {"name": family},
        "generator": generator,
        "data": tiny_data(pairs, crop=32),
        "optim": {"steps": 3, "decay_start": 1, "lr": 1e-3},
        "train": {"amp": amp, "log_every": 1, "val_every": 0, "ckpt_every": 100},
    }
    # the critics draw random numbers on the training device (gradient-penalty mixing), so the
    # generator's steps are compared on content terms: DeblurGAN in its content-only warm-up,
    # DeblurGAN-v2 with a zero adversarial weight (its critic still trains)
    if family == "deblurgan":
        raw["critic"] = {"base_channels": 4, "n_layers": 2}
        raw["loss"] = {"perceptual": "none", "critic_steps": 1, "pixel_weight": 100.0, "content_warmup": 3}
    elif family == "deblurganv2":
        raw["critic"] = {"base_channels": 4}
        raw["loss"] = {"perceptual": "none", "adv_weight": 0.0}
    else:
        raw["loss"] = {"pixel": "l1"}
    return raw


@pytest.mark.parametrize("family", FAMILIES)
def test_training_steps_agree(family: str, gpu: str, pair_folder: Path, tmp_path: Path) -> None:
    """Three float32 steps give the same generator losses on both devices; bf16 autocast trains too."""
    cfg = config_from_dict(_raw(family, pair_folder, amp=False))
    cpu = train(cfg, tmp_path / "cpu", device="cpu", progress=False)
    cuda = train(cfg, tmp_path / "cuda", device=gpu, progress=False)
    assert cpu.finished and cuda.finished
    for a, b in zip(cpu.history, cuda.history, strict=True):
        assert b["loss_g"] == pytest.approx(a["loss_g"], rel=1e-2, abs=1e-5)
    amp = train(config_from_dict(_raw(family, pair_folder, amp=True)), tmp_path / "amp", device=gpu, progress=False)
    assert amp.finished and all(torch.isfinite(torch.tensor(h["loss_g"])) for h in amp.history)
    restored = load_deblurrer(str(tmp_path / "amp" / "generator.pt"))(torch.rand(1, 3, 32, 32))
    assert torch.isfinite(restored).all()


def test_model_compare_costs_on_cuda(gpu: str, tmp_path: Path) -> None:
    from benchmarks.runtime import measure_runtime

    for family in FAMILIES:
        spec = str(small_checkpoint(family, tmp_path))
        cpu = measure_runtime(spec, "cpu", 64, 96, repeats=1, warmup=0)
        cuda = measure_runtime(spec, gpu, 64, 96, repeats=2, warmup=1)
        assert cuda["ms_per_image"] > 0
        assert cuda["params_M"] == pytest.approx(cpu["params_M"])
        assert cuda["gmacs"] == pytest.approx(cpu["gmacs"], rel=1e-6)
