"""ONNX export: onnxruntime matches torch for several sizes (dynamic height and width)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import randomize

from models.archs.deblurgan import Generator, GeneratorConfig
from models.export import main
from models.families.deblurgan import DeblurGAN, save_generator

ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'blurkit[onnx]')")
pytest.importorskip("onnx", reason="onnx not installed (pip install 'blurkit[onnx]')")


def test_onnx_matches_torch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    gen = randomize(Generator(GeneratorConfig(base_channels=4, n_blocks=2)))
    ckpt = tmp_path / "gen.pt"
    save_generator(gen, ckpt, half=False)
    out = tmp_path / "model.onnx"
    assert main(["--ckpt", str(ckpt), "--out", str(out)]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    model = DeblurGAN(gen)
    for shape in [(1, 3, 37, 53), (2, 3, 64, 48), (1, 3, 20, 90)]:
        x = torch.rand(*shape, generator=torch.Generator().manual_seed(sum(shape)))
        got = session.run(None, {"image": x.numpy()})[0]
        ref = model(x).numpy()
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, atol=1e-4)


def test_export_missing_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--ckpt", str(tmp_path / "absent.pt"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "absent.pt" in capsys.readouterr().err


@pytest.mark.parametrize("scales", [(1.0,), (1.0, 2.0, 3.0), (1.0, 2.5)])
def test_nafnet_onnx_keeps_the_scale_ensemble(tmp_path: Path, scales: tuple[float, ...]) -> None:
    """The graph restores as the checkpoint's deblurrer does, scale ensemble included."""
    from models.archs.nafnet import NAFNet, NAFNetConfig
    from models.families.nafnet import NAFNetDeblurrer
    from models.families.nafnet import save_generator as save_nafnet

    config = NAFNetConfig(width=4, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1), scales=scales)
    net = randomize(NAFNet(config), std=0.05)
    ckpt = tmp_path / "naf.pt"
    save_nafnet(net, ckpt)
    out = tmp_path / "naf.onnx"
    assert main(["--ckpt", str(ckpt), "--out", str(out)]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    model = NAFNetDeblurrer(net)
    single = NAFNetDeblurrer(net, scales=(1.0,))
    for shape in [(1, 3, 37, 53), (2, 3, 64, 48), (1, 3, 45, 91)]:
        x = torch.rand(*shape, generator=torch.Generator().manual_seed(sum(shape)))
        got = session.run(None, {"image": x.numpy()})[0]
        np.testing.assert_allclose(got, model(x).numpy(), atol=1e-4)
        if len(scales) > 1:  # the check can fail: the bare network restores differently
            assert np.abs(got - single(x).numpy()).max() > 1e-3


@pytest.mark.parametrize(
    ("shape", "scale"), [((31, 40), 3.0), ((45, 91), 2.0), ((64, 48), 2.5), ((7, 5), 3.0)]
)
def test_area_shrink_is_area_interpolation(shape: tuple[int, int], scale: float) -> None:
    from models.export import area_shrink

    x = torch.rand(2, 3, *shape, generator=torch.Generator().manual_seed(0))
    size = tuple(max(1, round(n / scale)) for n in shape)
    ref = torch.nn.functional.interpolate(x, size=size, mode="area")
    got = area_shrink(x, scale)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, atol=1e-6, rtol=0)
