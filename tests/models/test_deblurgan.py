"""DeblurGAN architecture, original-weight mapping, checkpoints and the Deblurrer wrapper."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from conftest import randomize
from torch import nn

from models import load_deblurrer
from models.archs.deblurgan import Critic, CriticConfig, Generator, GeneratorConfig
from models.families.deblurgan import DeblurGAN, convert_original_state_dict, load_generator, save_generator

TINY = GeneratorConfig(base_channels=4, n_blocks=2, dropout=0.0)


def test_generator_shapes_and_range() -> None:
    gen = randomize(Generator(TINY)).eval()
    x = torch.rand(2, 3, 32, 44) * 2 - 1
    y = gen(x)
    assert y.shape == x.shape
    assert y.min() >= -1 and y.max() <= 1
    with pytest.raises(ValueError, match="multiples of 4"):
        gen(torch.zeros(1, 3, 30, 32))


def test_untrained_generator_is_identity() -> None:
    x = torch.rand(2, 3, 16, 20) * 2 - 1
    assert torch.equal(Generator(TINY)(x), x)
    assert not torch.equal(
        Generator(GeneratorConfig(base_channels=4, n_blocks=1, global_residual=False))(x), x
    )


def test_generator_paper_size_layout() -> None:
    gen = Generator(GeneratorConfig())
    assert len(gen.blocks) == 9
    assert gen.stem[1].out_channels == 64 and gen.down[1][0].out_channels == 256
    assert isinstance(gen.blocks[0].body[4], nn.Dropout) and gen.blocks[0].body[4].p == 0.5
    assert isinstance(gen.head[2], nn.Tanh)


@pytest.mark.parametrize("hw", [(37, 53), (1, 1), (5, 130)])
def test_wrapper_any_size(hw: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = DeblurGAN(Generator(TINY))
    x = torch.rand(2, 3, *hw)
    y = model(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert 0 <= float(y.min()) and float(y.max()) <= 1


def test_wrapper_tiled_shapes() -> None:
    torch.manual_seed(0)
    x = torch.rand(1, 3, 70, 90)
    tiled = DeblurGAN(Generator(TINY), tile=48, overlap=16)(x)
    assert tiled.shape == x.shape and 0 <= float(tiled.min()) and float(tiled.max()) <= 1


def test_critic_receptive_field_is_70() -> None:
    torch.manual_seed(0)
    critic = Critic(CriticConfig(base_channels=4, n_layers=3)).eval()
    for m in critic.modules():  # a linear critic: the gradient footprint is exactly the receptive field
        if isinstance(m, (nn.LeakyReLU, nn.InstanceNorm2d)):
            m.forward = lambda t: t  # type: ignore[method-assign]
    x = torch.zeros(1, 3, 160, 160, requires_grad=True)
    out = critic(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 3)))
    cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2)))
    assert int(rows.max() - rows.min() + 1) == 70
    assert int(cols.max() - cols.min() + 1) == 70


def test_generator_overfits_one_pair() -> None:
    torch.manual_seed(0)
    gen = Generator(GeneratorConfig(base_channels=8, n_blocks=1, dropout=0.0))
    g = torch.Generator().manual_seed(1)
    sharp = torch.rand(1, 3, 8, 8, generator=g)
    sharp = torch.nn.functional.interpolate(sharp, size=(16, 16), mode="bilinear") * 1.6 - 0.8
    blurred = torch.nn.functional.avg_pool2d(sharp, 5, stride=1, padding=2, count_include_pad=False)
    opt = torch.optim.Adam(gen.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = (gen(blurred) - sharp).abs().mean()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0] / 5, losses[::10]


# --------------------------------------------------------------------------------------------------
# Original DeblurGAN layout, re-created faithfully from the published architecture description
# --------------------------------------------------------------------------------------------------
class _OrigBlock(nn.Module):
    def __init__(self, dim: int, use_dropout: bool) -> None:
        super().__init__()
        norm = functools.partial(nn.InstanceNorm2d, affine=False)
        seq: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=True),
            norm(dim),
            nn.ReLU(True),
        ]
        if use_dropout:
            seq.append(nn.Dropout(0.5))
        seq += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), norm(dim)]
        self.conv_block = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class _OrigGenerator(nn.Module):
    """The original ResnetGenerator: one nn.Sequential named ``model``, learn_residual on."""

    def __init__(self, ngf: int, n_blocks: int, use_dropout: bool) -> None:
        super().__init__()
        norm = functools.partial(nn.InstanceNorm2d, affine=False)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(3, ngf, 7, bias=True),
            norm(ngf),
            nn.ReLU(True),
        ]
        for m in (1, 2):
            layers += [
                nn.Conv2d(ngf * m, ngf * m * 2, 3, stride=2, padding=1, bias=True),
                norm(ngf * m * 2),
                nn.ReLU(True),
            ]
        layers += [_OrigBlock(ngf * 4, use_dropout) for _ in range(n_blocks)]
        for m in (4, 2):
            layers += [
                nn.ConvTranspose2d(
                    ngf * m, ngf * m // 2, 3, stride=2, padding=1, output_padding=1, bias=True
                ),
                norm(ngf * m // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x + self.model(x), -1, 1)


@pytest.mark.parametrize("use_dropout", [True, False])
def test_original_state_dict_loads(tmp_path: Path, use_dropout: bool) -> None:
    torch.manual_seed(3)
    orig = _OrigGenerator(ngf=4, n_blocks=3, use_dropout=use_dropout).eval()
    for p in orig.parameters():  # non-trivial values everywhere (biases included)
        nn.init.normal_(p, 0, 0.2)
    state = orig.state_dict()
    assert "model.1.weight" in state and "model.10.conv_block.1.weight" in state
    # old PyTorch saved instance-norm running statistics; they must be ignored
    state = {**state, "model.2.running_mean": torch.zeros(4), "model.2.running_var": torch.ones(4)}
    path = tmp_path / "latest_net_G.pth"
    torch.save(state, path)

    config, _ = convert_original_state_dict(state)
    assert (config.base_channels, config.n_blocks) == (4, 3)
    assert (config.dropout > 0) == use_dropout

    x01 = torch.rand(2, 3, 36, 44)
    with torch.no_grad():
        expected = (orig(x01 * 2 - 1) + 1) / 2
    got = load_deblurrer(str(path))(x01)
    torch.testing.assert_close(got, expected.clamp(0, 1), atol=1e-5, rtol=1e-5)


def test_original_state_dict_with_foreign_layer_is_refused() -> None:
    orig = _OrigGenerator(ngf=4, n_blocks=2, use_dropout=True)
    state = dict(orig.state_dict())
    state["model.30.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match="do not fit"):
        convert_original_state_dict(state)


def test_shipped_generator_roundtrip_half(tmp_path: Path) -> None:
    gen = randomize(Generator(TINY), std=0.05).eval()
    path = tmp_path / "w" / "deblurgan_blurkit.pt"
    save_generator(gen, path)
    blob = torch.load(path, weights_only=True)
    assert all(v.dtype == torch.float16 for v in blob["state_dict"].values() if v.is_floating_point())
    loaded = load_generator(path)
    assert loaded.config == TINY
    x = torch.rand(1, 3, 24, 28)
    ref = DeblurGAN(gen)(x)
    got = load_deblurrer(str(path))(x)
    assert float((got - ref).abs().max()) < 5e-3  # half-precision weights


def test_load_bad_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_generator(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt"):
        load_generator(junk)
    with pytest.raises(ValueError, match="junk.pt"):
        load_deblurrer(str(junk))


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="dropout"):
        GeneratorConfig(dropout=1.5)
    with pytest.raises(ValueError, match="n_layers"):
        CriticConfig(n_layers=0)
