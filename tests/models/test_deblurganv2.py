"""DeblurGAN-v2: FPN-MobileNetV2 generator, backbone weights, double-scale critic, RaLSGAN losses,
training step, checkpoints, ONNX export and training through ``models.train``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import blur_np, randomize, smooth_image, tiny_data
from torch import nn

from blurkit.tensors import to_tensor
from models import load_deblurrer
from models.archs.deblurganv2 import (
    MOBILENET_WEIGHTS_ENV,
    DoubleCritic,
    DoubleCriticConfig,
    FPNMobileNet,
    FPNMobileNetConfig,
    mobilenet_backbone,
)
from models.families.deblurganv2 import DeblurGANv2, DeblurGANv2LossConfig, save_generator, train_step
from models.losses import ralsgan_critic_loss, ralsgan_generator_loss
from models.training.config import config_from_dict, load_config
from models.training.families import StepContext
from models.training.loop import train

REPO = Path(__file__).resolve().parents[2]

TINY = FPNMobileNetConfig(width_mult=0.35, fpn_channels=16, head_channels=8, pretrained=False)


def test_generator_layout_and_identity() -> None:
    net = FPNMobileNet(FPNMobileNetConfig(pretrained=False))
    assert [m.out_channels for m in net.laterals] == [64, 128, 128, 128, 128]
    assert [m.in_channels for m in net.laterals] == [16, 24, 32, 64, 160]
    assert net.backbone_source == "random"
    x = torch.rand(2, 3, 64, 96) * 2 - 1
    assert torch.equal(net(x), x)  # final conv starts at zero
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.zeros(1, 3, 48, 64))
    with pytest.raises(ValueError, match="head_channels"):
        FPNMobileNetConfig(fpn_channels=128, head_channels=32)


def test_generator_range_and_dsc() -> None:
    torch.manual_seed(0)
    net = randomize(FPNMobileNet(TINY), std=0.2).eval()
    with torch.no_grad():
        y = net(torch.rand(1, 3, 64, 64) * 2 - 1)
    assert y.shape == (1, 3, 64, 64) and float(y.abs().max()) <= 1
    plain = FPNMobileNet(FPNMobileNetConfig(pretrained=False))
    dsc = FPNMobileNet(FPNMobileNetConfig(pretrained=False, dsc=True))
    depthwise = [m for m in dsc.heads.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert depthwise and all(m.kernel_size == (3, 3) and m.groups == m.in_channels for m in depthwise)

    def count(m: nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    assert count(dsc) < count(plain)
    assert count(dsc.encoders) == count(plain.encoders)  # the backbone is the same


@pytest.mark.parametrize("hw", [(37, 53), (3, 5), (33, 130)])
def test_wrapper_any_size(hw: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = DeblurGANv2(randomize(FPNMobileNet(TINY), std=0.05))
    x = torch.rand(2, 3, *hw)
    y = model(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert 0 <= float(y.min()) and float(y.max()) <= 1
    tiled = DeblurGANv2(model.net, tile=64, overlap=16)(torch.rand(1, 3, 70, 100))
    assert tiled.shape == (1, 3, 70, 100)


def test_backbone_weights_from_file_and_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torchvision

    torch.manual_seed(5)
    reference = torchvision.models.mobilenet_v2()
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(reference.state_dict(), path)
    config = FPNMobileNetConfig(backbone_weights=str(path))
    features, source = mobilenet_backbone(config, init_from_pretrained=True)
    assert source == f"file:{path}"
    torch.testing.assert_close(features[3].conv[0][0].weight, reference.features[3].conv[0][0].weight)
    # the environment variable works too; loading a checkpoint never looks for weights
    monkeypatch.setenv(MOBILENET_WEIGHTS_ENV, str(path))
    assert mobilenet_backbone(FPNMobileNetConfig(), True)[1] == f"file:{path}"
    assert mobilenet_backbone(FPNMobileNetConfig(), False)[1] == "random"
    monkeypatch.delenv(MOBILENET_WEIGHTS_ENV)
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        mobilenet_backbone(FPNMobileNetConfig(backbone_weights=str(tmp_path / "absent.pth")), True)

    # no file and no download: train from scratch, say so, never fail
    real = torchvision.models.mobilenet_v2

    def offline(*args: object, weights: object = None, **kwargs: object) -> nn.Module:
        if weights is not None:
            raise OSError("network unreachable")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torchvision.models, "mobilenet_v2", offline)
    with caplog.at_level(logging.WARNING, logger="models.archs.deblurganv2"):
        _, source = mobilenet_backbone(FPNMobileNetConfig(), True)
    assert source == "random"
    assert "from scratch" in caplog.text and "network unreachable" in caplog.text


def test_double_critic_scales() -> None:
    torch.manual_seed(0)
    critic = DoubleCritic(DoubleCriticConfig(base_channels=4))
    local, full = critic(torch.rand(2, 3, 64, 64))
    assert local.shape[:2] == (2, 1) and full.shape[:2] == (2, 1)
    assert local.shape[-1] > full.shape[-1]  # the global critic sees more of the image per score
    assert critic.local.config.n_layers == 3 and critic.full.config.n_layers == 5


def _ralsgan_reference(real: np.ndarray, fake: np.ndarray, critic: bool) -> float:
    """RaLSGAN written out element by element in float64 (Jolicoeur-Martineau 2018, Eq. for LSGAN)."""
    r, f = real.ravel().tolist(), fake.ravel().tolist()
    mean_r, mean_f = sum(r) / len(r), sum(f) / len(f)
    sign = 1.0 if critic else -1.0
    term_r = sum((v - mean_f - sign) ** 2 for v in r) / len(r)
    term_f = sum((v - mean_r + sign) ** 2 for v in f) / len(f)
    return (term_r + term_f) / 2


def test_ralsgan_against_reference() -> None:
    rng = np.random.default_rng(7)
    real, fake = rng.normal(0.5, 1.0, (3, 1, 5, 4)), rng.normal(-0.2, 0.7, (3, 1, 5, 4))
    r, f = torch.from_numpy(real), torch.from_numpy(fake)
    assert float(ralsgan_critic_loss(r, f)) == pytest.approx(_ralsgan_reference(real, fake, True), rel=1e-6)
    assert float(ralsgan_generator_loss(r, f)) == pytest.approx(
        _ralsgan_reference(real, fake, False), rel=1e-6
    )
    # a perfect critic (real 1 above fake on average, none spread) has zero loss; the generator the opposite
    zeros = torch.zeros(2, 1, 3, 3)
    assert float(ralsgan_critic_loss(zeros + 0.5, zeros - 0.5)) == 0.0
    assert float(ralsgan_generator_loss(zeros - 0.5, zeros + 0.5)) == 0.0


def test_ralsgan_means_are_constants_for_the_gradient() -> None:
    # as the authors' pooled (detached) means: d L_G / d f = (f − E r − 1) / n, nothing through E f
    g = torch.Generator().manual_seed(3)
    r = torch.randn(2, 1, 3, 4, generator=g, dtype=torch.float64)
    f = torch.randn(2, 1, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    ralsgan_generator_loss(r, f).backward()
    torch.testing.assert_close(f.grad, (f.detach() - r.mean() - 1.0) / f.numel())
    rr = r.clone().requires_grad_(True)
    ralsgan_critic_loss(rr, f.detach()).backward()
    torch.testing.assert_close(rr.grad, (rr.detach() - f.detach().mean() - 1.0) / r.numel())


def test_loss_config_defaults_are_the_authors() -> None:
    lc = DeblurGANv2LossConfig()
    assert (lc.pixel, lc.pixel_weight, lc.perceptual_weight, lc.adv_weight) == ("mse", 0.5, 0.006, 0.001)
    with pytest.raises(ValueError, match="adv_weight"):
        DeblurGANv2LossConfig(adv_weight=-1.0)


def test_train_step_overfits_one_pair() -> None:
    rng = np.random.default_rng(0)
    sharp = smooth_image(rng, 32, 32)
    x = to_tensor(blur_np(sharp, 9.0, 30.0))[None].repeat(2, 1, 1, 1) * 2 - 1
    y = to_tensor(sharp)[None].repeat(2, 1, 1, 1) * 2 - 1
    torch.manual_seed(0)
    gen = FPNMobileNet(
        FPNMobileNetConfig(width_mult=0.35, fpn_channels=32, head_channels=16, pretrained=False)
    )
    critic = DoubleCritic(DoubleCriticConfig(base_channels=4))
    opt_g = torch.optim.Adam(gen.parameters(), lr=3e-3)
    opt_d = torch.optim.Adam(critic.parameters(), lr=1e-3)
    cfg = DeblurGANv2LossConfig(perceptual="none")
    logs = [
        train_step(StepContext(gen, opt_g, cfg, critic=critic, opt_d=opt_d), (x, y))[1]
        for _ in range(40)
    ]
    pixel = [r["loss_pixel"] for r in logs]
    assert min(pixel[-5:]) < pixel[0] / 2, pixel[::5]
    assert all(np.isfinite(r["loss_d"]) and np.isfinite(r["loss_adv"]) for r in logs)
    assert all(r["loss_perceptual"] == 0.0 for r in logs)


def test_checkpoint_roundtrip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = randomize(FPNMobileNet(TINY), std=0.05)
    for m in net.modules():  # non-trivial running statistics: they must be saved too
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
    save_generator(net, tmp_path / "v2.pt", half=False)
    model = load_deblurrer(str(tmp_path / "v2.pt"))
    assert isinstance(model, DeblurGANv2) and model.name == "deblurganv2:v2"
    x = torch.rand(1, 3, 40, 36)
    torch.testing.assert_close(model(x), DeblurGANv2(net)(x))


def test_onnx_export_matches_torch(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'blurkit[onnx]')")
    pytest.importorskip("onnx", reason="onnx not installed (pip install 'blurkit[onnx]')")
    from models.export import main

    torch.manual_seed(0)
    net = randomize(FPNMobileNet(TINY), std=0.05)
    save_generator(net, tmp_path / "v2.pt", half=False)
    assert main(["--ckpt", str(tmp_path / "v2.pt"), "--out", str(tmp_path / "v2.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "v2.onnx"), providers=["CPUExecutionProvider"])
    model = DeblurGANv2(net)
    for shape in [(1, 3, 37, 53), (2, 3, 64, 48), (1, 3, 40, 90)]:
        x = torch.rand(*shape, generator=torch.Generator().manual_seed(sum(shape)))
        got = session.run(None, {"image": x.numpy()})[0]
        np.testing.assert_allclose(got, model(x).numpy(), atol=1e-4)


def test_trains_through_models_train(pair_folder: Path, tmp_path: Path) -> None:
    raw = {
        "model": {"name": "deblurganv2"},
        "generator": {"width_mult": 0.35, "fpn_channels": 16, "head_channels": 8, "pretrained": False},
        "critic": {"base_channels": 4},
        "data": tiny_data(pair_folder, crop=32),
        "loss": {"perceptual": "none"},
        "optim": {"steps": 2, "decay_start": 1, "lr": 1e-3},
        "train": {"amp": False, "log_every": 1, "val_every": 2, "ckpt_every": 100},
        "val": {"kind": "pairs", "root": str(pair_folder), "count": 2, "size": 32},
    }
    cfg = config_from_dict(raw)
    assert cfg.model == "deblurganv2" and cfg.critic.global_layers == 5
    with pytest.raises(ValueError, match="multiple of 32"):
        config_from_dict({**raw, "data": {**raw["data"], "crop": 48}})
    with pytest.raises(ValueError, match="not one of"):
        config_from_dict({**raw, "model": {"name": "deblurgan_v3"}})
    result = train(cfg, tmp_path / "run", device="cpu", progress=False)
    assert result.finished and [h["step"] for h in result.history] == [1, 2]
    assert all(np.isfinite(h["loss_d"]) and h["loss_pixel"] > 0 for h in result.history)
    x = torch.rand(1, 3, 21, 19)
    for name in ("generator.pt", "checkpoint.pt"):
        model = load_deblurrer(str(tmp_path / "run" / name))
        assert isinstance(model, DeblurGANv2) and model(x).shape == x.shape
    ck = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert ck["model"] == "deblurganv2" and set(ck["critic"]) >= {
        "local.model.0.weight",
        "full.model.0.weight",
    }
    with pytest.raises(ValueError, match="not a training checkpoint of a deblurgan model"):
        train(
            config_from_dict(
                {k: v for k, v in raw.items() if k not in ("model", "generator", "critic", "loss")}
                | {"loss": {"perceptual": "none"}}
            ),
            tmp_path / "run",
            device="cpu",
            progress=False,
            resume=True,
        )


@pytest.mark.parametrize("name", ["deblurganv2.toml", "deblurganv2_small.toml"])
def test_shipped_configs_parse(name: str) -> None:
    cfg = load_config(REPO / "models" / "configs" / name)
    assert cfg.model == "deblurganv2" and cfg.data.crop % 32 == 0
    lc = cfg.loss
    assert (lc.pixel, lc.pixel_weight, lc.perceptual_weight, lc.adv_weight) == ("mse", 0.5, 0.006, 0.001)
    assert (cfg.critic.local_layers, cfg.critic.global_layers) == (3, 5)
    assert cfg.optim.betas == (0.9, 0.999)
