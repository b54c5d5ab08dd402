import json

import numpy as np
import pandas as pd
import pytest

from blurkit.io import encode_image, read_image, write_image
from blurkit.synth import make_dataset, read_manifest, regenerate_blurred

SMALL = {"length": (3.0, 12.0)}


def _tree_bytes(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.parts[-2:] != ("", "") and p.name not in ("manifest.csv", "blurkit.json")
    }


def test_make_writes_aligned_pairs_kernels_and_manifest(sharp_folder, tmp_path):
    out = tmp_path / "pairs"
    res = make_dataset(sharp_folder, out, seed=1, preset="realistic", overrides=SMALL, progress=False)
    assert res.ok and res.written == 5
    df = read_manifest(out)
    assert len(df) == 5
    assert set(df["source"]) == {"a.png", "sub/b.jpg", "sub/deeper/ç é.png", "gray.png", "sixteen.png"}
    for _, row in df.iterrows():
        blur = read_image(out / row["blur"])
        sharp = read_image(out / row["sharp"])
        assert blur.shape == sharp.shape == (row["height"], row["width"], 3)
        k = np.load(out / row["kernel"])
        assert k.shape == (row["kernel_size"], row["kernel_size"])
        assert abs(k.sum(dtype=np.float64) - 1) < 1e-6
        assert 3.0 <= row["length"] <= 12.0
    # relative paths are kept
    assert (out / "blur/sub/deeper/ç é.png").is_file()
    run = json.loads((out / "blurkit.json").read_text())
    assert run["seed"] == 1 and run["preset"] == "realistic"


def test_regeneration_from_manifest_is_bit_exact(sharp_folder, tmp_path):
    out = tmp_path / "pairs"
    make_dataset(sharp_folder, out, seed=3, overrides=SMALL, progress=False)
    df = read_manifest(out)
    for _, row in df.iterrows():
        again = regenerate_blurred(out, row["key"])
        assert encode_image(again, ".png") == (out / row["blur"]).read_bytes()


def test_same_seed_same_bytes_across_runs_and_workers(sharp_folder, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    make_dataset(sharp_folder, a, seed=7, overrides=SMALL, progress=False)
    make_dataset(sharp_folder, b, seed=7, overrides=SMALL, workers=2, progress=False)
    make_dataset(sharp_folder, c, seed=8, overrides=SMALL, progress=False)
    ta, tb, tc = _tree_bytes(a), _tree_bytes(b), _tree_bytes(c)
    assert ta == tb
    blurs = [k for k in ta if k.startswith("blur/")]
    assert all(ta[k] != tc[k] for k in blurs)
    pd.testing.assert_frame_equal(read_manifest(a), read_manifest(b))


def test_pair_does_not_depend_on_other_files(sharp_folder, tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    make_dataset(sharp_folder, full, seed=2, overrides=SMALL, progress=False)
    make_dataset(sharp_folder, part, seed=2, overrides=SMALL, limit=2, progress=False)
    tp, tf = _tree_bytes(part), _tree_bytes(full)
    assert tp and all(tf[k] == v for k, v in tp.items())


def test_variants_have_distinct_seeds(sharp_folder, tmp_path):
    out = tmp_path / "v"
    make_dataset(sharp_folder, out, seed=0, overrides=SMALL, variants=2, limit=4, progress=False)
    df = read_manifest(out)
    assert sorted(df["blur"])[:2] == ["blur/a_v0.png", "blur/a_v1.png"]
    assert df["seed"].nunique() == 4


def test_refuses_to_overwrite_and_resumes(sharp_folder, tmp_path):
    out = tmp_path / "pairs"
    make_dataset(sharp_folder, out, seed=1, overrides=SMALL, progress=False)
    before = _tree_bytes(out)
    with pytest.raises(FileExistsError, match="--resume"):
        make_dataset(sharp_folder, out, seed=1, overrides=SMALL, progress=False)
    # a partial pair (meta missing) is redone; complete ones are skipped
    (out / "meta/a.json").unlink()
    (out / "blur/a.png").write_bytes(b"half")
    res = make_dataset(sharp_folder, out, seed=1, overrides=SMALL, resume=True, progress=False)
    assert res.written == 1 and res.skipped == 4
    assert _tree_bytes(out) == before
    with pytest.raises(ValueError, match="seed"):
        make_dataset(sharp_folder, out, seed=2, overrides=SMALL, resume=True, progress=False)
    res = make_dataset(sharp_folder, out, seed=1, overrides=SMALL, overwrite=True, progress=False)
    assert res.written == 5


def test_output_inside_source_is_refused(sharp_folder):
    with pytest.raises(ValueError, match="inside the source"):
        make_dataset(sharp_folder, sharp_folder / "pairs", progress=False)


def test_bad_sources_are_reported_and_the_run_continues(sharp_folder, tmp_path):
    (sharp_folder / "empty.png").write_bytes(b"")
    (sharp_folder / "notes.jpg").write_text("not an image")
    write_image(sharp_folder / "tiny.png", np.zeros((4, 4, 3), dtype=np.uint8))
    out = tmp_path / "pairs"
    errors = []
    res = make_dataset(
        sharp_folder, out, seed=0, overrides={"length": 30.0}, progress=False,
        on_error=lambda s, r: errors.append((s, r)),
    )
    failed = {s for s, _ in res.errors}
    assert {"empty.png", "notes.jpg", "tiny.png"} <= failed
    assert res.written >= 3
    df = pd.read_csv(out / "errors.csv")
    assert set(df["source"]) == failed
    reasons = dict(res.errors)
    assert "empty" in reasons["empty.png"] and "decode" in reasons["notes.jpg"]
    assert "too large" in reasons["tiny.png"] or "kernel" in reasons["tiny.png"]


def test_bad_arguments(sharp_folder, tmp_path):
    with pytest.raises(FileNotFoundError):
        make_dataset(tmp_path / "missing", tmp_path / "o", progress=False)
    with pytest.raises(ValueError, match="format"):
        make_dataset(sharp_folder, tmp_path / "o", fmt="gif", progress=False)
    with pytest.raises(ValueError, match="workers"):
        make_dataset(sharp_folder, tmp_path / "o", workers=0, progress=False)
    with pytest.raises(ValueError, match="lenght"):
        make_dataset(sharp_folder, tmp_path / "o", overrides={"lenght": 3}, progress=False)
