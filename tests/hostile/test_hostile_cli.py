"""Every CLI command with bad arguments, broken folders and failing file systems: one line, no traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import photo
from typer.testing import CliRunner

from blurkit.cli import app
from blurkit.synth import make_dataset

runner = CliRunner()
SMALL = {"length": (3.0, 6.0)}


@pytest.fixture
def pairs(src, tmp_path) -> Path:
    out = tmp_path / "pairs"
    make_dataset(src, out, overrides=SMALL, progress=False)
    return out


def _clean_exit(r, codes=(1, 2)) -> None:
    """The run ended through typer with an expected code, one ``error:`` line at least, no traceback."""
    assert "Traceback" not in r.output, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code in codes, (r.exit_code, r.output)


def _bad_invocations(tmp: Path, pairs: Path, src: Path) -> list[list[str]]:
    missing = str(tmp / "missing")
    a_file = tmp / "a_file.txt"
    a_file.write_text("hello\n")
    return [
        ["make", "--src", missing, "--out", str(tmp / "o")],
        ["make", "--src", str(src), "--out", str(tmp / "o"), "--preset", "nope"],
        ["make", "--src", str(src), "--out", str(tmp / "o"), "--set", "length=abc"],
        ["make", "--src", str(src), "--out", str(tmp / "o"), "--set", "lenght=3"],
        ["make", "--src", str(src), "--out", str(tmp / "o"), "--set", "kernel_size=4"],
        ["make", "--src", str(src), "--out", str(tmp / "o"), "--set", "kernel_size=99999"],
        ["make", "--src", str(src), "--out", str(tmp / "o"), "--length", "1e9"],
        ["make", "--src", str(src), "--out", str(tmp / "o"), "--workers", str(2**70)],
        ["make", "--src", str(src), "--out", str(tmp / "o"), "--device", "tpu"],
        ["make", "--src", str(src), "--out", str(tmp / "o"), "--backend", "mpi"],
        ["make", "--src", str(src), "--out", str(tmp / "o"), "--quality", "0"],
        ["make", "--src", str(src), "--out", str(tmp / "o"), "--resume", "--overwrite"],
        ["make", "--src", str(src), "--out", str(a_file)],
        ["make", "--src", str(a_file), "--out", str(tmp / "o")],
        ["make", "--src", str(src), "--out", str(pairs)],
        ["average", "--src", missing, "--out", str(tmp / "o")],
        ["average", "--src", str(src), "--out", str(tmp / "o"), "--window", "0"],
        ["average", "--src", str(src), "--out", str(tmp / "o"), "--window", "9,3"],
        ["average", "--src", str(src), "--out", str(tmp / "o"), "--window", str(10**12)],
        ["average", "--src", str(src), "--out", str(tmp / "o"), "--stride", "0"],
        ["average", "--src", str(src), "--out", str(tmp / "o"), "--response", "gamma:x"],
        ["merge", missing],
        ["merge", str(a_file)],
        ["inspect", missing],
        ["inspect", str(pairs), "--sample", "0"],
        ["inspect", str(pairs), "--psnr-sample", "-1"],
        ["verify", missing],
        ["verify", str(a_file)],
        ["kernel"],
        ["kernel", "--bank", str(2**70), "--out", str(tmp / "b.npz")],
        ["kernel", "--bank", "10", "--out", str(tmp / "b.txt")],
        ["kernel", "--bank", "10", "--out", str(tmp)],
        ["kernel", "--show", "--count", str(10**9)],
        ["kernel", "--show", "--count", "0"],
        ["kernel", "--show", "--width", str(10**9)],
        ["kernel", "--show", "--size", "4"],
        ["kernel", "--show", "--set", "length=1e9"],
        ["kernel", "--show", "--seed", "-3"],
        ["kernel", "--show", "--preset", "nope"],
        ["samples", str(a_file)],
        ["make", "--src", str(src)],  # missing --out: typer's own usage error
        ["verify"],
        ["nonsense-command"],
    ]


def test_every_command_with_bad_arguments_prints_one_clear_line(src, pairs, tmp_path):
    for args in _bad_invocations(tmp_path, pairs, src):
        r = runner.invoke(app, args)
        _clean_exit(r)
        usage_error = args[0] == "nonsense-command" or args == ["verify"] or (len(args) == 3 and args[0] == "make")
        if not usage_error:
            first = next(ln for ln in r.output.splitlines() if ln.strip())
            assert first.startswith("error:"), (args, r.output)


def test_the_real_command_line_prints_no_traceback(src, tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
    for args in (["make", "--src", str(src), "--out", str(tmp_path / "o"), "--workers", str(2**70)],
                 ["verify", str(tmp_path / "nowhere")],
                 ["kernel", "--bank", str(2**70), "--out", str(tmp_path / "b.npz")]):
        p = subprocess.run([sys.executable, "-m", "blurkit.cli", *args], capture_output=True, text=True, env=env,
                           timeout=120)
        assert p.returncode == 2 and "Traceback" not in p.stderr and p.stderr.startswith("error:"), p.stderr
        assert p.stderr.count("\n") == 1


# -- B7 / W14 / W15: broken manifests ----------------------------------------------------------------


def test_b7_verify_on_a_manifest_without_height(pairs):
    df = pd.read_csv(pairs / "manifest.csv")
    df.drop(columns=["height"]).to_csv(pairs / "manifest.csv", index=False)
    r = runner.invoke(app, ["verify", str(pairs)])
    _clean_exit(r, (2,))
    assert "manifest.csv" in r.output and "height" in r.output


@pytest.mark.parametrize("content", [b"key,blur\n\"unterminated,x\n", b"\xff\xfe\x00\x01binary", b"a,b\n1,2,3,4\n"])
def test_w14_verify_and_merge_name_the_broken_file(pairs, content):
    (pairs / "manifest.csv").write_bytes(content)
    r = runner.invoke(app, ["verify", str(pairs)])
    _clean_exit(r, (2,))
    assert "manifest.csv" in r.output
    (pairs / "manifest.shard-0-of-1.csv").write_bytes(content)
    r = runner.invoke(app, ["merge", str(pairs)])
    _clean_exit(r, (2,))
    assert "manifest.shard-0-of-1.csv" in r.output


def test_w14_verify_names_the_row_with_a_bad_size(pairs):
    df = pd.read_csv(pairs / "manifest.csv")
    df["height"] = df["height"].astype(object)
    df.loc[1, "height"] = "tall"
    df.to_csv(pairs / "manifest.csv", index=False)
    r = runner.invoke(app, ["verify", str(pairs)])
    _clean_exit(r, (1,))
    assert "manifest.csv:3: height 'tall'" in r.output


@pytest.mark.parametrize("path", ["../outside.png", "/etc/hostname", "blur/../../x.png"])
def test_w15_verify_refuses_paths_outside_the_folder(pairs, path):
    df = pd.read_csv(pairs / "manifest.csv")
    df.loc[0, "blur"] = path
    df.to_csv(pairs / "manifest.csv", index=False)
    r = runner.invoke(app, ["verify", str(pairs)])
    _clean_exit(r, (1,))
    assert "inside" in r.output and path in r.output


def test_w15_verify_refuses_a_symlink_leading_out(pairs, tmp_path):
    secret = tmp_path / "secret"
    photo(secret / "s.png")
    os.symlink(secret, pairs / "blur" / "link")
    df = pd.read_csv(pairs / "manifest.csv")
    df.loc[0, "blur"] = "blur/link/s.png"
    df.to_csv(pairs / "manifest.csv", index=False)
    r = runner.invoke(app, ["verify", str(pairs)])
    _clean_exit(r, (1,))
    assert "leads outside" in r.output


def test_o22_merge_with_a_shard_manifest_lacking_the_key_column(pairs):
    (pairs / "manifest.shard-0-of-1.csv").write_text("name,blur\nx,y\n")
    r = runner.invoke(app, ["merge", str(pairs)])
    _clean_exit(r, (2,))
    assert "no key column" in r.output


# -- B10 / B11: read-only file systems ------------------------------------------------------------------


def _read_only(monkeypatch):
    # compile the kernel code first: numba writes its cache with os.replace, which is refused below
    from blurkit.kernels import sample_kernels
    from blurkit.kernels.trajectory import sample_trajectories

    sample_kernels(1, seed=0)
    sample_trajectories(1, seed=0)

    def refuse(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system", str(a[-1]) if a else None)

    monkeypatch.setattr(os, "replace", refuse)


def test_b10_inspect_out_onto_a_read_only_file_system(pairs, tmp_path, monkeypatch):
    _read_only(monkeypatch)
    r = runner.invoke(app, ["inspect", str(pairs), "--out", str(tmp_path / "sheet.png")])
    _clean_exit(r, (1,))
    assert "sheet.png" in r.output and "Read-only file system" in r.output


def test_b11_samples_into_a_read_only_file_system(tmp_path, monkeypatch):
    _read_only(monkeypatch)
    r = runner.invoke(app, ["samples", str(tmp_path / "s")])
    _clean_exit(r, (1,))
    assert "Read-only file system" in r.output and str(tmp_path / "s") in r.output


def test_o23_kernel_png_onto_a_read_only_file_system(tmp_path, monkeypatch):
    _read_only(monkeypatch)
    r = runner.invoke(app, ["kernel", "--show", "--count", "1", "--out", str(tmp_path / "k.png")])
    _clean_exit(r, (1,))
    assert "k.png" in r.output


def test_o24_kernel_bank_onto_a_read_only_file_system(tmp_path, monkeypatch):
    _read_only(monkeypatch)
    r = runner.invoke(app, ["kernel", "--bank", "3", "--out", str(tmp_path / "b.npz")])
    _clean_exit(r, (1, 2))
    assert "b.npz" in r.output


# -- B9: bank sizes ----------------------------------------------------------------------------------


def test_b9_kernel_bank_count_is_bounded_and_a_small_bank_works(tmp_path):
    r = runner.invoke(app, ["kernel", "--bank", str(2**70), "--out", str(tmp_path / "b.npz")])
    _clean_exit(r, (2,))
    assert "--bank" in r.output and not (tmp_path / "b.npz").exists()
    r = runner.invoke(app, ["kernel", "--bank", "3", "--out", str(tmp_path / "b.npz")])
    assert r.exit_code == 0 and (tmp_path / "b.npz").is_file()
