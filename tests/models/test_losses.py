"""WGAN-GP terms and the VGG perceptual loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import VGG16_FILE
from torch import nn

import models.losses as losses
from models.archs.deblurgan import Critic, CriticConfig
from models.losses import (
    PerceptualLoss,
    VGGWeightsUnavailable,
    gradient_penalty,
    load_vgg_features,
    wgan_critic_loss,
    wgan_generator_loss,
)


def test_gradient_penalty_linear_critic_closed_form() -> None:
    # D(x) = <w, x>: the gradient is w everywhere, so the penalty is (|w| - 1)^2 exactly
    w = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0))

    def critic(x: torch.Tensor) -> torch.Tensor:
        return (x * w).sum(dim=(1, 2, 3))

    real, fake = torch.rand(6, 3, 4, 5), torch.rand(6, 3, 4, 5)
    gp = gradient_penalty(critic, real, fake)
    torch.testing.assert_close(gp, (w.norm() - 1) ** 2)


def test_gradient_penalty_matches_per_sample_autograd() -> None:
    torch.manual_seed(0)
    critic = Critic(CriticConfig(base_channels=4, n_layers=2))
    real, fake = torch.rand(3, 3, 24, 24), torch.rand(3, 3, 24, 24)
    alpha = torch.tensor([0.1, 0.5, 0.9])
    gp = gradient_penalty(critic, real, fake, alpha=alpha)
    # independent: one sample at a time (instance norm keeps samples independent)
    terms = []
    for i in range(3):
        xi = (alpha[i] * real[i : i + 1] + (1 - alpha[i]) * fake[i : i + 1]).requires_grad_(True)
        critic(xi).sum().backward(inputs=[xi])
        terms.append((xi.grad.flatten().norm() - 1) ** 2)
    torch.testing.assert_close(gp, torch.stack(terms).mean(), rtol=1e-5, atol=1e-6)
    # the penalty is differentiable w.r.t. the critic parameters (double backward)
    gp.backward()
    first = critic.model[0].weight
    assert first.grad is not None and float(first.grad.abs().sum()) > 0


def test_gradient_penalty_draws_alpha_from_generator() -> None:
    critic = Critic(CriticConfig(base_channels=4, n_layers=1))
    real, fake = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)
    a = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(5))
    b = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(5))
    c = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="shapes differ"):
        gradient_penalty(critic, real, fake[:2])


def test_wgan_losses() -> None:
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.0])
    assert float(wgan_critic_loss(real, fake)) == pytest.approx(-0.5 - 2.0)
    assert float(wgan_generator_loss(fake)) == pytest.approx(0.5)


def test_perceptual_refuses_without_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(arch: str) -> nn.Sequential:
        raise OSError("network unreachable")

    monkeypatch.setattr(losses, "_download_vgg_features", offline)
    monkeypatch.delenv(losses.VGG_WEIGHTS_ENV, raising=False)
    with pytest.raises(VGGWeightsUnavailable, match="--vgg-weights"):
        PerceptualLoss("vgg19_conv3_3")


def test_perceptual_bad_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(losses.VGG_WEIGHTS_ENV, raising=False)
    with pytest.raises(ValueError, match="vgg11"):
        load_vgg_features("vgg11")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_vgg_features("vgg16_relu3_3", tmp_path / "missing.pth")
    monkeypatch.setenv(losses.VGG_WEIGHTS_ENV, str(tmp_path / "env_missing.pth"))
    with pytest.raises(FileNotFoundError, match="env_missing.pth"):
        load_vgg_features("vgg16_relu3_3")


def _fake_vgg16_file(path: Path) -> Path:
    import torchvision

    with torch.device("meta"):
        shapes = {k: v.shape for k, v in torchvision.models.vgg16().features.state_dict().items()}
    g = torch.Generator().manual_seed(0)
    torch.save(
        {
            k: torch.randn(s, generator=g) * 0.01 if int(k.split(".")[0]) < 16 else torch.zeros(s)
            for k, s in shapes.items()
        },
        path,
    )
    return path


def test_perceptual_from_file_env_and_wrong_arch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = _fake_vgg16_file(tmp_path / "vgg16_features.pth")  # values do not matter for loading
    monkeypatch.setattr(
        losses, "_download_vgg_features", lambda arch: (_ for _ in ()).throw(OSError("offline"))
    )
    trunk = load_vgg_features("vgg16_relu3_3", weights)
    assert len(trunk) == 16 and isinstance(trunk[-1], nn.ReLU)
    assert not any(p.requires_grad for p in trunk.parameters())
    monkeypatch.setenv(losses.VGG_WEIGHTS_ENV, str(weights))
    assert len(load_vgg_features("vgg16_relu3_3")) == 16
    with pytest.raises(ValueError, match="vgg19"):
        load_vgg_features("vgg19_conv3_3", weights)


@pytest.mark.skipif(not VGG16_FILE.is_file(), reason=f"{VGG16_FILE} not present (offline VGG16 weights)")
def test_perceptual_real_weights_behaviour() -> None:
    loss = PerceptualLoss("vgg16_relu3_3", VGG16_FILE)
    # the shared file's first filter matches torchvision's VGG16 (pretrained, not random)
    assert float(loss.features[0].weight.abs().mean()) > 0.05
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    b = (a + 0.2 * torch.randn(2, 3, 32, 32, generator=g)).clamp(-1, 1)
    assert float(loss(a, a)) == 0.0
    near, far = float(loss(b, a)), float(loss(-a, a))
    assert 0 < near < far
    restored = b.clone().requires_grad_(True)
    loss(restored, a).backward()
    assert restored.grad is not None and float(restored.grad.abs().sum()) > 0
