import pytest
import torch
from torch import nn

from benchmarks import runtime


class TinyNet:
    """A deblurrer wrapper around an nn.Module exposed as ``net`` (the documented convention)."""

    name = "tiny"
    needs_kernel = False

    def __init__(self):
        self.net = nn.Conv2d(3, 3, 3, padding=1, bias=False)

    def __call__(self, blurred, kernels=None):
        return self.net(blurred)


def test_find_module_and_macs():
    model = TinyNet()
    assert runtime.find_module(model) is model.net
    assert runtime.find_module(object()) is None
    x = torch.rand(1, 3, 8, 10)
    assert runtime.count_macs(model, x) == 3 * 3 * 3 * 3 * 8 * 10  # out_c · in_c · k² · H · W


def test_measure_identity_and_registered(monkeypatch, capsys):
    res = runtime.measure_runtime("identity", height=16, width=24, repeats=2, warmup=1)
    assert res["ms_per_image"] >= 0 and res["params_M"] is None and res["gmacs"] is None
    import models.base as base

    monkeypatch.setitem(base._REGISTRY, "tiny-test", lambda device="cpu": TinyNet())
    res = runtime.measure_runtime("tiny-test", height=16, width=24, repeats=2, warmup=1)
    assert res["params_M"] == pytest.approx(81 / 1e6)
    assert res["gmacs"] == pytest.approx(81 * 16 * 24 / 1e9)
    assert runtime.main(["--model", "no-such-model", "--out", "/tmp/unused-runtime"]) == 2
    assert "no-such-model" in capsys.readouterr().err
    with pytest.raises(ValueError, match="positive"):
        runtime.measure_runtime("identity", height=0)
