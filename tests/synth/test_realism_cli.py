"""``blurkit inspect PAIRS --reference REAL``: the realism table and its plot."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from blurkit.cli import app
from blurkit.io import write_image


def _pairs(root: Path, offset: int) -> Path:
    rng = np.random.default_rng(offset)
    for i in range(2):
        sharp = cv2.resize(rng.random((8, 10, 3)), (80, 64)) * 200 + 20
        blurred = cv2.GaussianBlur(sharp, (0, 0), 2.0) + offset
        write_image(root / "sharp" / f"{i}.png", np.clip(sharp, 0, 255).round().astype(np.uint8))
        write_image(root / "blur" / f"{i}.png", np.clip(blurred, 0, 255).round().astype(np.uint8))
    return root


def test_inspect_reference_prints_the_gaps_and_draws_them(tmp_path: Path) -> None:
    syn, real = _pairs(tmp_path / "syn", 4), _pairs(tmp_path / "real", 0)
    plot = tmp_path / "realism.png"
    res = CliRunner().invoke(app, ["inspect", str(syn), "--reference", str(real), "--realism-plot", str(plot)])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("offset"))
    assert float(line.split()[3]) == pytest.approx(4.0, abs=0.1)
    assert "noise_blur" in res.output and "blur_sigma" in res.output
    assert cv2.imread(str(plot)) is not None


def test_inspect_reference_names_a_missing_folder(tmp_path: Path) -> None:
    syn = _pairs(tmp_path / "syn", 1)
    res = CliRunner().invoke(app, ["inspect", str(syn), "--reference", str(tmp_path / "nowhere")])
    assert res.exit_code != 0
    assert "nowhere" in res.output and "Traceback" not in res.output
