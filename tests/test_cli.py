import json

import numpy as np
from typer.testing import CliRunner

from blurkit.cli import app, parse_overrides
from blurkit.io import encode_image
from blurkit.synth import read_manifest, regenerate_blurred

runner = CliRunner()


def test_make_and_regenerate(sharp_folder, tmp_path):
    out = tmp_path / "pairs"
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--seed", "4",
                            "--preset", "deblurgan", "--set", "length=4,10", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "5 pair(s) written" in r.output
    df = read_manifest(out)
    assert df["length"].between(4, 10).all()
    row = df.iloc[0]
    assert encode_image(regenerate_blurred(out, row["key"]), ".png") == (out / row["blur"]).read_bytes()
    # running again without --resume refuses and leaves the files alone
    r2 = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--quiet"])
    assert r2.exit_code == 2 and "--resume" in r2.output
    r3 = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--seed", "4",
                             "--preset", "deblurgan", "--set", "length=4,10", "--resume", "--quiet"])
    assert r3.exit_code == 0 and "5 already complete" in r3.output


def test_make_reports_bad_files_with_exit_code_1(sharp_folder, tmp_path):
    (sharp_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(tmp_path / "p"), "--quiet"])
    assert r.exit_code == 1
    assert "broken.png" in r.output and "errors.csv" in r.output


def test_make_bad_option_is_one_clear_line(sharp_folder, tmp_path):
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(tmp_path / "p"), "--preset", "nope"])
    assert r.exit_code == 2
    assert r.output.strip().startswith("error: preset")
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(tmp_path / "p"), "--set", "oops"])
    assert r.exit_code == 2 and "FIELD=VALUE" in r.output


def test_kernel_show_and_png(tmp_path):
    png = tmp_path / "k.png"
    r = runner.invoke(app, ["kernel", "--show", "--count", "3", "--seed", "2", "--out", str(png)])
    assert r.exit_code == 0, r.output
    assert "S " in r.output and "@" in r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = runner.invoke(app, ["kernel"])
    assert r.exit_code == 2


def test_kernel_show_line_preset():
    r = runner.invoke(app, ["kernel", "--show", "--count", "2", "--preset", "line", "--size", "21"])
    assert r.exit_code == 0, r.output
    assert "21x21" in r.output


def test_samples_and_presets(tmp_path):
    r = runner.invoke(app, ["samples", str(tmp_path / "s")])
    assert r.exit_code == 0 and len(list((tmp_path / "s").glob("*.png"))) >= 5
    r = runner.invoke(app, ["presets"])
    names = [line.split(":")[0] for line in r.output.splitlines()]
    assert {"deblurgan", "realistic"} <= set(names)
    cfg = json.loads(r.output.splitlines()[0].split(": ", 1)[1])
    assert "length" in cfg


def test_parse_overrides():
    assert parse_overrides(["length=10,40", "shot=0", "jpeg_quality=[50, 90]", "response=srgb", "kernel-size=null"]) == {
        "length": (10.0, 40.0), "shot": 0, "jpeg_quality": (50, 90), "response": "srgb", "kernel_size": None,
    }
    assert np.isclose(parse_overrides(["anxiety=0.005"])["anxiety"], 0.005)


def test_the_cli_needs_no_click_package_beside_typer():
    """typer >= 0.2x runs on its own copy of click; the command line must not need the package."""
    import subprocess
    import sys

    import pytest

    block = "import sys; sys.modules['click'] = None; "
    if subprocess.run([sys.executable, "-c", block + "import typer"], capture_output=True).returncode:
        pytest.skip("this typer itself needs the click package")
    r = subprocess.run(
        [sys.executable, "-c", block + "from blurkit.cli import main; sys.argv = ['blurkit', 'presets']; main()"],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "realistic" in r.stdout
    bad = subprocess.run(
        [sys.executable, "-c", block + "from blurkit.cli import main; sys.argv = ['blurkit', 'make', '--nope']; main()"],
        capture_output=True, text=True,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
