import numpy as np

from benchmarks.compare import compare, main
from blurkit.io import write_image
from blurkit.synth import make_dataset


def _pairs(tmp_path, preset="deblurgan"):
    rng = np.random.default_rng(0)
    src = tmp_path / "src"
    for i in range(3):
        img = np.kron(rng.random((12, 16, 3)), np.ones((6, 6, 1))).astype(np.float32)
        write_image(src / f"{i}.png", img)
    out = tmp_path / "pairs"
    make_dataset(src, out, seed=1, preset=preset, overrides={"length": 9.0}, progress=False)
    return out


def test_oracle_wiener_beats_identity_on_noise_free_blur(tmp_path):
    pairs = _pairs(tmp_path)
    rows, summary = compare(pairs, ["identity", "wiener"])
    by = {s["deblurrer"]: s for s in summary}
    assert by["identity"]["pairs"] == by["wiener"]["pairs"] == 3
    assert by["wiener"]["psnr"] > by["identity"]["psnr"] + 1.0
    assert len(rows) == 6


def test_non_blind_methods_are_skipped_without_kernels(tmp_path):
    pairs = _pairs(tmp_path)
    for k in (pairs / "kernels").iterdir():
        k.unlink()
    _, summary = compare(pairs, ["identity", "wiener"])
    by = {s["deblurrer"]: s for s in summary}
    assert by["identity"]["pairs"] == 3 and by["wiener"]["pairs"] == 0


def test_cli_writes_outputs_and_rejects_bad_names(tmp_path, capsys):
    pairs = _pairs(tmp_path)
    assert main(["--pairs", str(pairs), "--deblurrer", "identity", "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "per_image.csv").is_file() and (tmp_path / "o" / "summary.md").is_file()
    assert main(["--pairs", str(pairs), "--deblurrer", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
