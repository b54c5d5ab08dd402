"""The uplift study's command line is generated from its config dataclass; the scoring modules stay
free of Ultralytics."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks._options import add_options, existing_folders, option, options_from_args
from benchmarks.yolo_uplift import UpliftConfig, build_parser, config_from_args

ROOT = Path(__file__).resolve().parents[2]


def test_every_field_has_a_flag_and_the_defaults_agree():
    parser = build_parser()
    flags = {a.dest: a for a in parser._actions}
    for f in dataclasses.fields(UpliftConfig):
        assert f.name in flags, f"{f.name}: no flag"
    config = config_from_args(parser.parse_args(["--device", "cpu"]))
    assert config == UpliftConfig()  # the flags' defaults are the dataclass defaults
    text = parser.format_help()
    assert "confidence of scored detections (default 0.25)" in text
    assert "(default 5,15,30,45)" in text and "(default runs/yolo_uplift/)" in text


def test_repeated_flags_and_renamed_flag(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    folders = ["--pairs", str(tmp_path / "a"), "--deblurred", str(tmp_path / "a"), "--deblurred", str(tmp_path / "b")]
    args = build_parser().parse_args(
        [*folders, "--deblurrer", "identity", "--deblurrer", "wiener", "--device", "cpu", "--quiet"]
    )
    config = config_from_args(args)
    assert config.deblurred == (tmp_path / "a", tmp_path / "b")
    assert config.deblurrers == ("identity", "wiener")
    assert args.quiet is True


def test_device_flag_chooses_when_absent():
    assert config_from_args(build_parser().parse_args([])).device in ("cpu", "cuda")


@dataclasses.dataclass(frozen=True)
class _Settings:
    size: int | None = option(None, "size in px")
    names: tuple[str, ...] = option((), "a name (repeatable)", repeat=True)
    root: Path | None = option(None, "a folder", from_cli=existing_folders)


def test_options_helper(tmp_path):
    p = argparse.ArgumentParser()
    add_options(p, _Settings)
    s = options_from_args(_Settings, p.parse_args(["--size", "3", "--names", "a", "--names", "b"]))
    assert s == _Settings(size=3, names=("a", "b"))
    with pytest.raises(FileNotFoundError, match=r"--root .*nope: no such folder"):
        options_from_args(_Settings, p.parse_args(["--root", str(tmp_path / "nope")]))

    @dataclasses.dataclass(frozen=True)
    class Bad:
        pair: tuple[int, int] = option((1, 2), "two numbers")

    with pytest.raises(TypeError, match="pair"):
        add_options(argparse.ArgumentParser(), Bad)


def test_scoring_does_not_import_ultralytics():
    code = (
        "import sys\n"
        "import benchmarks.detection, benchmarks.yolo_uplift\n"
        "assert not [m for m in sys.modules if m.startswith('ultralytics')], 'ultralytics imported'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_python_dash_m_runs_without_warning():
    r = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "benchmarks.yolo_uplift", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: python -m benchmarks.yolo_uplift")
