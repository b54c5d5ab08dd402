"""The shared command-line helpers: settings parser, error handling, image/tensor layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blurkit.overrides import apply_settings, parse_setting, parse_value
from blurkit.scripting import run_main
from blurkit.tensors import chw_to_hwc, hwc_to_chw, to_image, to_tensor


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5e-4", 5e-4),
        ("true", True),
        ("[0.9, 0.999]", [0.9, 0.999]),
        ('"mse"', "mse"),
        ("mse", "mse"),
        ("10,40", [10.0, 40.0]),
        ("null", None),
        ("0", 0),
        ("a,b", "a,b"),
    ],
)
def test_values(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_setting_depth_and_errors() -> None:
    assert parse_setting("svrnn.optim.lr=1", depth=3) == (("svrnn", "optim", "lr"), 1)
    for bad in ("optim.lr", "optim..lr=1", "=3"):
        with pytest.raises(ValueError, match="expected"):
            parse_setting(bad)
    with pytest.raises(ValueError, match="SECTION.KEY"):
        parse_setting("lr=1", depth=2)


def test_apply_settings_copies_and_checks_tables() -> None:
    raw = {"optim": {"lr": 1.0}, "name": "x"}
    out = apply_settings(raw, ["optim.lr=2", "data.crop=64"])
    assert out == {"optim": {"lr": 2}, "name": "x", "data": {"crop": 64}}
    assert raw["optim"]["lr"] == 1.0
    with pytest.raises(ValueError, match="not a section"):
        apply_settings(raw, ["name.x=1"])


def test_run_main_reports_errors(capsys: pytest.CaptureFixture[str]) -> None:
    def failing(argv: object) -> int:
        raise FileNotFoundError("in.png: no such file")

    assert run_main(failing, []) == 2
    assert capsys.readouterr().err == "error: in.png: no such file\n"
    assert run_main(lambda argv: None, []) == 0
    assert run_main(lambda argv: 3, []) == 3

    def crashing(argv: object) -> int:
        raise KeyError("a bug, not a user error")

    with pytest.raises(KeyError):
        run_main(crashing, [])


def test_tensor_layout_round_trip() -> None:
    a = np.random.default_rng(0).random((2, 4, 5, 3)).astype(np.float32)
    t = to_tensor(a)
    assert t.shape == (2, 3, 4, 5) and t.is_contiguous()
    assert np.array_equal(to_image(t), a)
    assert np.array_equal(to_image(to_tensor(a[0])), a[0])
    assert torch.equal(chw_to_hwc(hwc_to_chw(torch.from_numpy(a))), torch.from_numpy(a))
    with pytest.raises(ValueError, match="dimensions"):
        hwc_to_chw(torch.zeros(3, 4))
