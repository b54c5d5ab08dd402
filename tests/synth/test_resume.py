"""Kill a running ``blurkit make`` with SIGKILL, check the folder holds no half-written file, resume."""

import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from blurkit.cli import app
from blurkit.io import write_image
from blurkit.synth import make_dataset, read_manifest

ARGS = ["--seed", "11", "--length", "3,9", "--quiet"]


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def thirty(tmp_path):
    rng = np.random.default_rng(4)
    root = tmp_path / "src"
    for i in range(30):
        img = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
        img = cv2.GaussianBlur(img, (5, 5), 1.0)
        write_image(root / f"d{i % 3}" / f"img {i:02d}.png", img)
    return root


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_then_resume_gives_the_uninterrupted_tree(thirty, tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "out"
    res = make_dataset(thirty, ref, seed=11, overrides={"length": (3.0, 9.0)}, progress=False)
    assert res.ok and res.written == 30

    cmd = [sys.executable, "-m", "blurkit.cli", "make", "--src", str(thirty), "--out", str(out), *ARGS]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    killed_at = None
    while time.monotonic() < deadline and proc.poll() is None:
        done = len(list((out / "meta").rglob("*.json"))) if (out / "meta").is_dir() else 0
        if done >= 3:
            os.kill(proc.pid, signal.SIGKILL)
            killed_at = done
            break
        time.sleep(0.002)
    proc.wait(timeout=60)
    if killed_at is None:
        pytest.skip(f"the run ended before it could be killed (rc {proc.returncode})")
    assert proc.returncode == -signal.SIGKILL

    # whatever is there is either a complete file or a temporary file; never a truncated image
    files = [p for p in out.rglob("*") if p.is_file()]
    tmp = [p for p in files if p.name.endswith(".tmp")]
    assert all(p.name.startswith(".") for p in tmp)
    complete = len(list((out / "meta").rglob("*.json")))
    assert 3 <= complete < 30
    assert not (out / "manifest.csv").exists()  # only written at the end of a run
    for p in files:
        if p in tmp:
            continue
        if p.suffix == ".png":
            data = p.read_bytes()
            assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is not None, p
            assert data.endswith(b"IEND\xaeB`\x82"), p
        if p.suffix in (".png", ".npy", ".json") and p.parent.name != "out":
            assert (ref / p.relative_to(out)).read_bytes() == p.read_bytes(), p

    r = CliRunner().invoke(app, [*cmd[3:], "--resume"])  # same command, in this process (faster start)
    assert r.exit_code == 0, r.output
    assert f"{complete} already complete" in r.output
    assert not [p for p in out.rglob("*.tmp")]
    assert _tree(out) == _tree(ref)
    assert len(read_manifest(out)) == 30
