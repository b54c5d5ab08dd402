import json
import os

import pytest
from typer.testing import CliRunner

from blurkit.cli import app, convenience_overrides
from blurkit.synth import make_dataset, read_manifest, resolve_sources

runner = CliRunner()
SMALL = {"length": (3.0, 8.0)}


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_folder_glob_and_list_name_sources_the_same_way(sharp_folder, tmp_path):
    folder = resolve_sources(sharp_folder)
    assert folder.kind == "folder"
    rels = [s.rel for s in folder.sources]
    assert rels == sorted(rels) and "sub/deeper/ç é.png" in rels
    glob = resolve_sources(str(sharp_folder / "**" / "*.png"))
    assert glob.kind == "glob"
    assert [s.rel for s in glob.sources] == [r for r in rels if r.endswith(".png")]
    listing = tmp_path / "list.txt"
    listing.write_text(
        "# sharp sources\n\nsharp src/a.png\n  sharp src/sub/deeper/ç é.png  \n" f"{sharp_folder / 'gray.png'}\n",
        encoding="utf-8",
    )
    lst = resolve_sources(listing)
    assert lst.kind == "list"
    assert [s.rel for s in lst.sources] == ["sharp src/a.png", "sharp src/gray.png", "sharp src/sub/deeper/ç é.png"]


def test_list_entries_outside_the_list_folder_and_duplicates(sharp_folder, tmp_path):
    other = tmp_path / "lists" / "deep"
    other.mkdir(parents=True)
    listing = other / "l.txt"
    listing.write_text(f"../../sharp src/a.png\n{sharp_folder / 'gray.png'}\n")
    rels = [s.rel for s in resolve_sources(listing).sources]
    assert len(rels) == 2 and all(not r.startswith(("/", "..")) for r in rels)
    assert any(r.endswith("sharp src/gray.png") for r in rels)
    listing.write_text("../../sharp src/a.png\n# again\n../../sharp src/a.png\n")
    with pytest.raises(ValueError, match="l.txt:3"):
        resolve_sources(listing)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_sources(tmp_path / "nothing here")
    with pytest.raises(ValueError, match="one image"):
        resolve_sources(sharp_folder / "a.png")


def test_pairs_do_not_depend_on_how_sources_are_named(sharp_folder, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    make_dataset(sharp_folder, a, seed=5, overrides=SMALL, progress=False)
    make_dataset(str(sharp_folder / "**" / "*.png"), b, seed=5, overrides=SMALL, progress=False)
    ta, tb = _tree(a), _tree(b)
    shared = [k for k in tb if k.startswith(("blur/", "sharp/", "kernels/"))]
    assert len(shared) == 4 * 3 and all(ta[k] == tb[k] for k in shared)


def test_missing_listed_file_is_a_failure_of_the_run(sharp_folder, tmp_path):
    listing = sharp_folder.parent / "list.txt"
    listing.write_text("sharp src/a.png\nsharp src/missing.png\n")
    res = make_dataset(listing, tmp_path / "o", overrides=SMALL, progress=False)
    assert res.written == 1 and [s for s, _ in res.errors] == ["sharp src/missing.png"]
    assert "no such file" in res.errors[0][1]


def test_dry_run_writes_nothing(sharp_folder, tmp_path):
    out = tmp_path / "pairs"
    res = make_dataset(sharp_folder, out, dry_run=True, progress=False)
    assert res.dry_run and res.todo == 5 and len(res.planned) == 5 and not out.exists()
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(out), "--dry-run", "--limit", "2"])
    assert r.exit_code == 0, r.output
    assert "2 pair(s) planned" in r.output and "a.png ->" in r.output and str(out / "blur" / "a.png") in r.output
    assert not out.exists()


def test_convenience_flags_map_onto_config(sharp_folder, tmp_path):
    out = tmp_path / "pairs"
    r = runner.invoke(app, [
        "make", "--src", str(sharp_folder), "--out", str(out), "--limit", "2", "--quiet", "--kernel-size", "9",
        "--length", "3,6", "--exposure", "0.5,1", "--noise", "0.001,0.002", "--saturation", "1,2",
        "--jpeg", "80,90",
    ])
    assert r.exit_code == 0, r.output
    cfg = json.loads((out / "blurkit.json").read_text())["config"]
    assert cfg["kernel_size"] == 9 and cfg["length"] == [3.0, 6.0] and cfg["exposure"] == [0.5, 1.0]
    assert cfg["shot"] == [0.001, 0.001] and cfg["read"] == [0.002, 0.002]
    assert cfg["boost"] == [1.0, 2.0] and cfg["jpeg_quality"] == [80, 90]
    df = read_manifest(out)
    assert (df["kernel_size"] == 9).all() and df["jpeg_quality"].between(80, 90).all()
    assert convenience_overrides(noise="0", saturation="1", jpeg="none") == {
        "shot": 0.0, "read": 0.0, "boost": 1.0, "jpeg_quality": None,
    }
    for bad in (["--noise", "0.1"], ["--length", "a,b"], ["--jpeg", "80.5"]):
        r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(tmp_path / "x"), *bad])
        assert r.exit_code == 2 and r.output.startswith(f"error: {bad[0]}"), r.output
    r = runner.invoke(app, ["make", "--src", str(sharp_folder), "--out", str(tmp_path / "x"),
                            "--length", "3", "--set", "length=4"])
    assert r.exit_code == 2 and "length" in r.output
    assert not os.path.exists(tmp_path / "x")


def test_output_folder_checks_per_source_kind(sharp_folder, tmp_path):
    with pytest.raises(ValueError, match="inside the source"):
        make_dataset(str(sharp_folder / "**" / "*.png"), sharp_folder / "sub" / "pairs", progress=False)
    # a flat glob may write next to its sources: the outputs can never match it again
    res = make_dataset(str(sharp_folder / "*.png"), sharp_folder / "pairs", overrides=SMALL, progress=False)
    assert res.ok and res.written == 3
    listing = tmp_path / "l.txt"
    listing.write_text("out/a.png\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes((sharp_folder / "a.png").read_bytes())
    with pytest.raises(ValueError, match="must not contain a source"):
        make_dataset(listing, tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="scheduler"):
        make_dataset(sharp_folder, tmp_path / "x", scheduler="tcp://127.0.0.1:1", progress=False)
