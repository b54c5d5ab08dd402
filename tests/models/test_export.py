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
