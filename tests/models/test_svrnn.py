"""Spatially variant RNN: the parallel scan against a plain loop (values and gradients), the network,
its training step, checkpoints, ONNX export and training through ``models.train``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import blur_np, randomize, smooth_image, tiny_data

from blurkit.io import read_image, write_image
from blurkit.tensors import to_image, to_tensor
from models import load_deblurrer
from models.archs.scan import linear_scan, linear_scan_loop
from models.archs.svrnn import SVRNN, SVRNNConfig, spatial_rnn
from models.families.svrnn import PixelLossConfig, SVRNNDeblurrer, save_generator, train_step
from models.losses import pixel_loss
from models.training.config import config_from_dict, load_config
from models.training.families import StepContext
from models.training.loop import train

REPO = Path(__file__).resolve().parents[2]

TINY = SVRNNConfig(base_channels=4, rnn_channels=4, n_rnn=1)


def _coeffs(
    shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(shape, generator=g, dtype=dtype) * 2 - 1) * 0.99
    b = torch.randn(shape, generator=g, dtype=dtype)
    return a, b


def _python_recurrence(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """h_t = a_t h_{t-1} + b_t on 1-D arrays, in plain Python floats."""
    h, out = 0.0, []
    for at, bt in zip(a.tolist(), b.tolist(), strict=True):
        h = at * h + bt
        out.append(h)
    return np.array(out)


@pytest.mark.parametrize("length", [1, 2, 3, 7, 16, 33])
@pytest.mark.parametrize("dim", [-1, 2, 0])
def test_scan_matches_loop(length: int, dim: int) -> None:
    shape = [2, 3, 4, 5]
    shape[dim] = length
    a, b = _coeffs(tuple(shape), seed=length)
    ref = linear_scan_loop(a, b, dim)
    torch.testing.assert_close(linear_scan(a, b, dim), ref, rtol=1e-12, atol=1e-12)
    # more doubling steps than needed change nothing (what a traced graph with a fixed count does)
    torch.testing.assert_close(linear_scan(a, b, dim, steps=10), ref, rtol=1e-12, atol=1e-12)
    # and the loop itself is the recurrence, checked on one line in plain Python
    line_a = a.movedim(dim, -1).reshape(-1, length)[3].numpy()
    line_b = b.movedim(dim, -1).reshape(-1, length)[3].numpy()
    np.testing.assert_allclose(
        ref.movedim(dim, -1).reshape(-1, length)[3].numpy(), _python_recurrence(line_a, line_b)
    )


def test_scan_too_few_steps_differs() -> None:
    a, b = _coeffs((1, 9), seed=1)
    assert not torch.allclose(linear_scan(a, b, steps=2), linear_scan_loop(a, b))


def test_scan_gradcheck() -> None:
    a, b = _coeffs((2, 3, 6), seed=2)
    a.requires_grad_(True)
    b.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p, q: linear_scan(p, q, -1), (a, b))
    x = torch.randn(1, 2, 3, 5, dtype=torch.float64, requires_grad=True)
    w = (torch.rand(1, 2, 3, 5, dtype=torch.float64) * 1.8 - 0.9).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p, q: spatial_rnn(p, q, 3, reverse=True), (x, w))
    assert torch.autograd.gradcheck(lambda p, q: spatial_rnn(p, q, 2), (x, w))


def test_scan_and_loop_gradients_agree() -> None:
    a, b = _coeffs((2, 4, 19), seed=3)
    upstream = torch.randn(2, 4, 19, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    grads = []
    for fn in (linear_scan, linear_scan_loop):
        pa, pb = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
        (fn(pa, pb, -1) * upstream).sum().backward()
        grads.append((pa.grad, pb.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-10, atol=1e-12)


def test_network_gradients_scan_vs_loop() -> None:
    torch.manual_seed(0)
    net = randomize(SVRNN(TINY), seed=1).double()
    x = torch.rand(2, 3, 12, 16, dtype=torch.float64) * 2 - 1
    grads, outs = [], []
    for scan in (linear_scan, linear_scan_loop):
        net.zero_grad()
        net.scan = scan
        y = net(x)
        (y * torch.linspace(-1, 1, y.numel(), dtype=torch.float64).reshape(y.shape)).sum().backward()
        outs.append(y.detach())
        grads.append({n: p.grad.clone() for n, p in net.named_parameters()})
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-10, atol=1e-12)
    assert any(g.abs().sum() > 0 for g in grads[0].values())
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-8, atol=1e-10, msg=name)


@pytest.mark.parametrize("initial_state", ["zero", "first"])
def test_sweep_properties(initial_state: str) -> None:
    x = torch.randn(1, 2, 5, 7, dtype=torch.float64)
    w = torch.rand(1, 2, 5, 7, dtype=torch.float64) * 0.9
    # zero weights: no recurrence
    torch.testing.assert_close(spatial_rnn(x, torch.zeros_like(w), 3, initial_state=initial_state), x)
    # right→left is left→right on the mirrored image
    torch.testing.assert_close(
        spatial_rnn(x, w, 3, reverse=True, initial_state=initial_state),
        spatial_rnn(x.flip(3), w.flip(3), 3, initial_state=initial_state).flip(3),
    )
    # the first position: from the zero state h0 = (1 - w0) x0, or passed through; then h1 mixes
    h = spatial_rnn(x, w, 3, initial_state=initial_state)
    h0 = (1 - w[..., 0]) * x[..., 0] if initial_state == "zero" else x[..., 0]
    torch.testing.assert_close(h[..., 0], h0)
    torch.testing.assert_close(h[..., 1], (1 - w[..., 1]) * x[..., 1] + w[..., 1] * h0)
    # the whole sweep is the plain recurrence, written out
    ref = torch.zeros_like(x[..., 0]) if initial_state == "zero" else x[..., 0]
    for t in range(x.shape[-1]):
        ref = (1 - w[..., t]) * x[..., t] + w[..., t] * ref if (t or initial_state == "zero") else ref
        torch.testing.assert_close(h[..., t], ref)
    with pytest.raises(ValueError, match="shapes differ"):
        spatial_rnn(x, w[..., :3], 3)
    with pytest.raises(ValueError, match="initial_state"):
        spatial_rnn(x, w, 3, initial_state="one")


def test_first_state_keeps_constants() -> None:
    w = torch.rand(1, 2, 5, 7, dtype=torch.float64) * 1.8 - 0.9
    const = torch.full_like(w, 0.3)
    torch.testing.assert_close(spatial_rnn(const, w, 2, reverse=True, initial_state="first"), const)
    # from a zero state the start of the sweep is attenuated by (1 - w0)
    assert not torch.allclose(spatial_rnn(const, w, 2, initial_state="zero"), const)


def test_config_validation() -> None:
    assert SVRNNConfig(max_weight=1.0).max_weight == 1.0  # plain tanh, as released
    with pytest.raises(ValueError, match="max_weight"):
        SVRNNConfig(max_weight=1.5)
    with pytest.raises(ValueError, match="architecture"):
        SVRNNConfig(architecture="paper")
    with pytest.raises(ValueError, match="initial_state"):
        SVRNNConfig(initial_state="ones")
    with pytest.raises(ValueError, match="n_rnn"):
        SVRNNConfig(n_rnn=0)
    with pytest.raises(ValueError, match="pixel"):
        PixelLossConfig(pixel="huber")


def test_untrained_is_identity_and_weights_bounded() -> None:
    net = SVRNN(TINY)
    x = torch.rand(2, 3, 16, 20) * 2 - 1
    assert torch.equal(net(x), x)
    with torch.no_grad():
        w = randomize(SVRNN(TINY), std=1.0).recurrence_weights(x)
    assert w.shape == (2, 4 * 4, 4, 5)
    assert 0.5 < float(w.abs().max()) <= float(torch.tensor(TINY.max_weight))  # float32 bound, never beyond
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.zeros(1, 3, 18, 20))


@pytest.mark.parametrize("hw", [(37, 53), (1, 1), (5, 130)])
def test_wrapper_any_size(hw: tuple[int, int]) -> None:
    model = SVRNNDeblurrer(randomize(SVRNN(TINY), std=0.05))
    x = torch.rand(2, 3, *hw)
    y = model(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert 0 <= float(y.min()) and float(y.max()) <= 1
    tiled = SVRNNDeblurrer(model.net, tile=48, overlap=16)(torch.rand(1, 3, 70, 90))
    assert tiled.shape == (1, 3, 70, 90)


def test_pixel_loss_values() -> None:
    a, b = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.5)  # 0.25 apart on the [0, 1] scale
    assert float(pixel_loss(a, b, "mse")) == pytest.approx(0.0625)
    assert float(pixel_loss(a, b, "l1")) == pytest.approx(0.25)


def test_overfits_one_pair() -> None:
    rng = np.random.default_rng(0)
    sharp = smooth_image(rng, 32, 32)
    blurred = blur_np(sharp, 9.0, 30.0)
    x = to_tensor(blurred)[None] * 2 - 1
    y = to_tensor(sharp)[None] * 2 - 1
    torch.manual_seed(0)
    net = SVRNN(SVRNNConfig(base_channels=8, rnn_channels=8, n_rnn=1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = [
        train_step(StepContext(net, opt, PixelLossConfig()), (x, y))[1]["loss_pixel"]
        for _ in range(60)
    ]
    assert min(losses[-5:]) < losses[0] / 4, losses[::10]


def test_checkpoint_roundtrip(tmp_path: Path) -> None:
    net = randomize(SVRNN(TINY), std=0.05)
    save_generator(net, tmp_path / "svrnn.pt", half=False)
    model = load_deblurrer(str(tmp_path / "svrnn.pt"))
    assert model.name == "svrnn:svrnn"
    x = torch.rand(1, 3, 20, 24)
    torch.testing.assert_close(model(x), SVRNNDeblurrer(net)(x))


def test_sweep_tile_is_the_default_tiling(tmp_path: Path) -> None:
    from models.predict import main as predict_main

    net = randomize(SVRNN(dataclasses.replace(TINY, sweep_tile=32)), std=0.05)
    save_generator(net, tmp_path / "svrnn.pt", half=False)
    model = load_deblurrer(str(tmp_path / "svrnn.pt"))
    assert (model.tile, model.overlap) == (32, 8)
    x = torch.rand(1, 3, 70, 90, generator=torch.Generator().manual_seed(3))
    plain = randomize(SVRNN(TINY), std=0.05)  # same weights, no sweep tile
    tiled = SVRNNDeblurrer(plain, tile=32, overlap=8)(x)
    torch.testing.assert_close(model(x), tiled)
    whole = SVRNNDeblurrer(plain)(x)
    assert SVRNNDeblurrer(plain).tile is None and not torch.allclose(whole, tiled, atol=1e-4)
    assert SVRNNDeblurrer(net, tile=48).tile == 48  # an explicit tile wins
    # models.predict keeps the network's tile unless --tile says otherwise
    src = tmp_path / "src"
    write_image(src / "a.png", to_image(x[0]))
    for extra, expected in (([], tiled), (["--tile", "0"], whole)):
        out = tmp_path / f"out{len(extra)}"
        assert predict_main(["--ckpt", str(tmp_path / "svrnn.pt"), "--src", str(src), "--out", str(out), *extra]) == 0
        got = to_tensor(read_image(out / "a.png"))[None]
        assert float((got - expected.clamp(0, 1)).abs().max()) <= 1 / 255 + 1e-6
    for bad in (-4, 30, 8):
        with pytest.raises(ValueError, match="sweep_tile"):
            SVRNNConfig(sweep_tile=bad)
    assert SVRNNConfig().sweep_tile == 0  # checkpoints written before the field load as whole-image


@pytest.mark.parametrize("architecture", ["compact", "released"])
def test_onnx_export_matches_torch(tmp_path: Path, architecture: str) -> None:
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'blurkit[onnx]')")
    pytest.importorskip("onnx", reason="onnx not installed (pip install 'blurkit[onnx]')")
    from models.export import main

    torch.manual_seed(0)
    cfg = TINY if architecture == "compact" else SVRNNConfig("released", 2, 3, 2, initial_state="first")
    net = randomize(SVRNN(cfg), std=0.1)
    save_generator(net, tmp_path / "svrnn.pt", half=False)
    assert main(["--ckpt", str(tmp_path / "svrnn.pt"), "--out", str(tmp_path / "svrnn.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "svrnn.onnx"), providers=["CPUExecutionProvider"])
    model = SVRNNDeblurrer(net)
    for shape in [(1, 3, 37, 53), (2, 3, 64, 48), (1, 3, 20, 150)]:  # 150 px: longer sweeps than traced
        x = torch.rand(*shape, generator=torch.Generator().manual_seed(sum(shape)))
        got = session.run(None, {"image": x.numpy()})[0]
        np.testing.assert_allclose(got, model(x).numpy(), atol=1e-4)


def _raw(pairs: Path, steps: int) -> dict:
    return {
        "model": {"name": "svrnn"},
        "generator": {"base_channels": 4, "rnn_channels": 4, "n_rnn": 1},
        "data": tiny_data(pairs),
        "loss": {"pixel": "l1"},
        "optim": {"steps": steps, "decay_start": 1, "lr": 1e-3},
        "train": {"amp": False, "log_every": 1, "val_every": 2, "ckpt_every": 100},
        "val": {"kind": "pairs", "root": str(pairs), "count": 2, "size": 16},
    }


def test_trains_through_models_train_and_resumes(pair_folder: Path, tmp_path: Path) -> None:
    cfg = config_from_dict(_raw(pair_folder, steps=3))
    assert cfg.model == "svrnn" and cfg.critic is None
    with pytest.raises(ValueError, match="no critic"):
        config_from_dict({**_raw(pair_folder, 3), "critic": {"base_channels": 4}})
    with pytest.raises(ValueError, match="unknown keys"):
        config_from_dict({**_raw(pair_folder, 3), "loss": {"gp_weight": 10.0}})
    full = train(cfg, tmp_path / "full", device="cpu", progress=False)
    assert full.finished and [h["step"] for h in full.history] == [1, 2, 3]
    assert all(h["loss_g"] > 0 and "loss_d" not in h for h in full.history)
    part = train(cfg, tmp_path / "part", device="cpu", progress=False, stop_at=1)
    rest = train(cfg, tmp_path / "part", device="cpu", progress=False, resume=True)
    assert [h["step"] for h in rest.history] == [2, 3]
    assert [h["loss_g"] for h in rest.history] == [h["loss_g"] for h in full.history[1:]]
    assert part.step == 1
    x = torch.rand(1, 3, 21, 19)
    a = load_deblurrer(str(tmp_path / "full" / "generator.pt"))
    b = load_deblurrer(str(tmp_path / "part" / "checkpoint.pt"))
    assert isinstance(a, SVRNNDeblurrer) and isinstance(b, SVRNNDeblurrer)
    torch.testing.assert_close(a(x), b(x), atol=2e-3, rtol=0)  # generator.pt is half precision
    header = (tmp_path / "full" / "log.csv").read_text().splitlines()[0]
    assert header == "step,epoch,lr,loss_pixel,loss_perceptual,loss_g,l1,seconds"


@pytest.mark.parametrize("name", ["svrnn.toml", "svrnn_small.toml"])
def test_shipped_configs_parse(name: str) -> None:
    cfg = load_config(REPO / "models" / "configs" / name)
    assert cfg.model == "svrnn" and cfg.critic is None and cfg.loss.pixel == "mse"
    assert 0 < cfg.generator.max_weight <= 1


RELEASED = SVRNNConfig(
    architecture="released", base_channels=16, rnn_channels=32, n_rnn=4, global_residual=False
)


def test_released_architecture_size_and_shapes() -> None:
    # the authors' released network (Caffe prototxt): ~9.23 M parameters, nearly all in the weight CNN
    net = SVRNN(RELEASED)
    total = sum(p.numel() for p in net.parameters())
    weight_cnn = sum(p.numel() for p in net.weight_net.parameters())
    assert 9.1e6 < total < 9.35e6, total
    assert weight_cnn > 0.95 * total
    x = torch.rand(1, 3, 40, 56) * 2 - 1
    with torch.no_grad():
        w = net.recurrence_weights(x)
        assert w.shape == (1, 4 * 4 * 32, 20, 28)  # 1/2 resolution, 4 layers × 4 directions × 32
        assert net(x).shape == x.shape
    with pytest.raises(ValueError, match="multiples of 8"):
        net(torch.zeros(1, 3, 36, 56))
    # with the global residual (and its zero-initialised last conv) it starts as the identity
    res = SVRNN(dataclasses.replace(RELEASED, global_residual=True))
    assert torch.equal(res(x), x)


def test_released_architecture_scan_vs_loop_and_wrapper() -> None:
    cfg = dataclasses.replace(RELEASED, base_channels=2, rnn_channels=3, n_rnn=2)
    net = randomize(SVRNN(cfg), seed=5, std=0.2).double()
    x = torch.rand(1, 3, 16, 24, dtype=torch.float64) * 2 - 1
    outs = []
    for scan in (linear_scan, linear_scan_loop):
        net.scan = scan
        outs.append(net(x).detach())
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-10, atol=1e-12)
    assert float(outs[0].std()) > 1e-3
    model = SVRNNDeblurrer(SVRNN(cfg))
    assert model(torch.rand(1, 3, 37, 29)).shape == (1, 3, 37, 29)
