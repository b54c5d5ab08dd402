import json

import numpy as np
from typer.testing import CliRunner

from blurkit.cli import app
from blurkit.kernels import load_kernel_bank
from blurkit.synth import read_manifest
from blurkit.synth.bank import export_kernel_bank, read_bank_records, sample_bank

runner = CliRunner()


def _crop(k):
    ys, xs = np.nonzero(k)
    return k[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _assert_same_kernel(a, b, atol=1e-5):
    """Centred odd kernels equal up to zero padding and float noise."""
    n = max(a.shape[0], b.shape[0])
    pa = np.pad(a, (n - a.shape[0]) // 2)
    pb = np.pad(b, (n - b.shape[0]) // 2)
    np.testing.assert_allclose(pa, pb, atol=atol)


def test_exported_bank_round_trips_through_load_kernel_bank(tmp_path):
    path = export_kernel_bank(tmp_path / "bank.npz", 6, seed=4, overrides={"length": (5.0, 20.0)})
    with np.load(path) as z:
        kernels, sizes, seeds = z["kernels"], z["sizes"], z["seeds"]
        assert kernels.shape[0] == 6 and kernels.shape[1] == kernels.shape[2] == sizes.max()
        assert kernels.dtype == np.float32
    records = read_bank_records(path)
    assert [r["seed"] for r in records] == seeds.tolist()
    assert all(5.0 <= r["length"] <= 20.0 for r in records)
    fresh = sample_bank(6, seed=4, overrides={"length": (5.0, 20.0)})
    for k, s, d in zip(kernels, sizes, fresh, strict=True):
        assert d.kernel.shape[0] == s
        np.testing.assert_array_equal(_crop(k), _crop(d.kernel))
    loaded = load_kernel_bank(path)
    assert loaded.shape[0] == 6
    np.testing.assert_allclose(loaded.sum(axis=(1, 2)), 1.0, atol=1e-5)
    for a, b in zip(loaded, kernels, strict=True):
        _assert_same_kernel(a, b)


def test_cli_bank_and_make_from_it(sharp_folder, tmp_path):
    bank = tmp_path / "bank.npz"
    r = runner.invoke(app, ["kernel", "--bank", "5", "--out", str(bank), "--seed", "1", "--set", "length=3,8"])
    assert r.exit_code == 0, r.output
    assert "5 kernel(s)" in r.output and bank.is_file()
    out = tmp_path / "pairs"
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--set", "kernel=bank",
                            "--set", f"bank={bank}", "--quiet"])
    assert r.exit_code == 0, r.output
    df = read_manifest(out)
    assert (df["kernel_source"] == "bank").all() and df["bank_index"].between(0, 4).all()
    stored = load_kernel_bank(bank)
    for _, row in df.iterrows():
        k = np.load(out / row["kernel"])
        _assert_same_kernel(k, stored[int(row["bank_index"])])
    r = runner.invoke(app, ["kernel", "--bank", "3"])
    assert r.exit_code == 2 and "--out" in r.output
    r = runner.invoke(app, ["kernel", "--bank", "3", "--out", str(tmp_path / "b.png")])
    assert r.exit_code == 2 and ".npz" in r.output


def test_kernel_show_with_exposure():
    r = runner.invoke(app, ["kernel", "--show", "--count", "2", "--exposure", "0.25", "--seed", "5"])
    assert r.exit_code == 0, r.output
    assert "e=0.25" in r.output and "S" in r.output and "E" in r.output
    degs = sample_bank(2, seed=5, overrides={"exposure": (0.25,)})
    assert all(d.record["exposure"] == 0.25 for d in degs)
    assert json.loads(json.dumps(degs[0].record))["exposure"] == 0.25
