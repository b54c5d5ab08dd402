"""NAFNet: identity at initialisation, shapes, checkpoints, training through ``models.train``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import randomize, tiny_data

from models import load_deblurrer
from models.archs.nafnet import NAFBlock, NAFNet, NAFNetConfig
from models.families.nafnet import NAFNetDeblurrer, save_generator

TINY = NAFNetConfig(width=4, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1))


def test_untrained_network_is_the_identity() -> None:
    net = NAFNet(TINY)
    x = torch.rand(2, 3, 16, 24) * 2 - 1
    assert torch.equal(net(x), x)
    block = randomize(NAFBlock(4))
    with torch.no_grad():
        block.beta.zero_()
        block.gamma.zero_()
    y = torch.randn(1, 4, 8, 8)
    assert torch.equal(block(y), y)


def test_config_validation_and_size_multiple() -> None:
    assert TINY.size_multiple == 4
    assert NAFNetConfig(enc_blocks=[1, 2, 3], dec_blocks=[1, 1, 1]).enc_blocks == (1, 2, 3)
    with pytest.raises(ValueError, match="same number"):
        NAFNetConfig(enc_blocks=(1, 1), dec_blocks=(1,))
    with pytest.raises(ValueError, match="tile"):
        NAFNetConfig(tile=100)
    with pytest.raises(ValueError, match="multiples of 4"):
        NAFNet(TINY)(torch.zeros(1, 3, 18, 16))


def test_layer_norm_normalises_each_pixel_over_channels() -> None:
    from models.archs.nafnet import LayerNorm2d

    x = torch.randn(2, 6, 5, 7) * 3 + 1
    y = LayerNorm2d(6)(x)
    assert torch.allclose(y.mean(1), torch.zeros(2, 5, 7), atol=1e-5)
    assert torch.allclose(y.var(1, unbiased=False), torch.ones(2, 5, 7), atol=1e-3)


def test_checkpoint_round_trip_and_any_size(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = randomize(NAFNet(TINY), std=0.05)
    path = tmp_path / "naf.pt"
    save_generator(net, path, half=False)
    model = load_deblurrer(str(path))
    assert isinstance(model, NAFNetDeblurrer) and model.size_multiple == 4
    x = torch.rand(1, 3, 37, 50)
    y = model(x)
    assert y.shape == x.shape and 0 <= float(y.min()) and float(y.max()) <= 1
    with torch.no_grad():
        direct = (net(torch.nn.functional.pad(x * 2 - 1, (0, 2, 0, 3), mode="reflect")) + 1) / 2
    assert torch.allclose(y, direct[..., :37, :50].clamp(0, 1), atol=1e-5)
    with pytest.raises(ValueError, match="NAFNet"):
        save_generator(torch.nn.Conv2d(1, 1, 1), tmp_path / "x.pt")


def test_tiled_restoration_matches_whole_image_inside_tiles(tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = randomize(NAFNet(TINY), std=0.05)
    whole = NAFNetDeblurrer(net)
    tiled = NAFNetDeblurrer(net, tile=32, overlap=8)
    x = torch.rand(1, 3, 40, 70)
    assert whole(x).shape == tiled(x).shape == x.shape
    # the global pooling of SCA sees one tile, so tiles differ a little from the whole image
    assert float((whole(x) - tiled(x)).abs().mean()) < 0.05


def test_trains_through_the_shared_loop(tmp_path: Path, pair_folder: Path) -> None:
    from models.training.config import config_from_dict
    from models.training.loop import train

    raw = {
        "model": {"name": "nafnet"},
        "generator": {"width": 4, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1]},
        "data": tiny_data(pair_folder),
        "loss": {"pixel": "l1"},
        "optim": {"steps": 3, "decay_start": 1, "lr": 1e-3},
        "train": {"amp": False, "log_every": 1, "val_every": 3, "ckpt_every": 3},
    }
    result = train(config_from_dict(raw), tmp_path / "run", progress=False, device="cpu")
    assert result.finished and result.step == 3
    model = load_deblurrer(str(tmp_path / "run" / "generator.pt"))
    assert isinstance(model, NAFNetDeblurrer)
    x = torch.rand(1, 3, 16, 16)
    assert float((model(x) - x).abs().max()) > 0  # the steps moved it away from the identity
    bad = {**raw, "data": {**tiny_data(pair_folder), "crop": 18}}
    with pytest.raises(ValueError, match="multiple of 4"):
        config_from_dict(bad)
