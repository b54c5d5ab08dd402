"""Hostile sources for ``blurkit make``: paths, names, formats, sizes. Case ids refer to docs/robustness.md."""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import (
    exr_header_only,
    files_outside,
    jpeg_header_only,
    photo,
    png_header_only,
    tiff_header_only,
    tree_hash,
)
from PIL import Image
from typer.testing import CliRunner

from blurkit.cli import app
from blurkit.io import ImageReadError, read_header
from blurkit.synth import make_dataset, read_manifest
from blurkit.synth.inspection import verify_pairs
from blurkit.synth.sources import resolve_sources

runner = CliRunner()
SMALL = {"length": (3.0, 6.0)}


def _make(src, out, **kw):
    kw.setdefault("overrides", SMALL)
    return make_dataset(src, out, progress=False, **kw)


# -- B1: a glob that climbs out of its prefix never writes outside --out ------------------------------


def test_b1_glob_with_dotdot_cannot_overwrite_the_source(tmp_path, monkeypatch):
    trav = tmp_path / "trav"
    (trav / "a/b/d1").mkdir(parents=True)
    victim = photo(trav / "victim/photo16.png", dtype=np.uint16)
    before = tree_hash(trav)
    monkeypatch.chdir(trav)
    r = runner.invoke(app, ["make", "--src", "a/b/d*/../../../victim/*.png", "--out", "out", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert ".." not in r.output and "out/blur/" in r.output
    res = _make("a/b/d*/../../../victim/*.png", "out")
    assert res.ok and res.written == 1
    assert tree_hash(trav / "victim") == {k[len("victim/"):]: v for k, v in before.items() if k.startswith("victim/")}
    assert files_outside(trav, [trav / "out"]) == ["victim/photo16.png"]
    row = read_manifest(trav / "out").iloc[0]
    assert ".." not in row["blur"] and row["blur"].startswith("blur/") and row["blur"].endswith("victim/photo16.png")
    assert cv2.imread(str(victim), cv2.IMREAD_UNCHANGED).dtype == np.uint16  # still the 16-bit original


def test_o1_symlinked_output_folder_leading_to_the_sources_is_refused(src, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(src, out / "blur")  # out/blur -> the photo folder
    before = tree_hash(src)
    with pytest.raises(FileExistsError):  # the photos look like pairs of this job: refused as is
        _make(src, out)
    res = _make(src, out, overwrite=True)
    assert res.written == 0 and len(res.errors) == 3
    assert all("outside" in reason for _, reason in res.errors)
    assert tree_hash(src) == before


def test_o2_output_file_that_is_a_symlink_to_a_source_is_not_written_through(src, tmp_path):
    out = tmp_path / "out"
    (out / "sharp").mkdir(parents=True)
    os.symlink(src / "p0.png", out / "sharp" / "p0.png")
    before = tree_hash(src)
    res = _make(src, out, overwrite=True)
    assert [s for s, _ in res.errors] == ["p0.png"] and "symbolic link" in res.errors[0][1]
    assert tree_hash(src) == before


def test_o3_list_entries_climbing_out_are_named_inside_out(src, tmp_path):
    lists = tmp_path / "lists/deep"
    lists.mkdir(parents=True)
    (lists / "l.txt").write_text("../../photos/p0.png\n" f"{src / 'p1.png'}\n")
    out = tmp_path / "out"
    res = _make(lists / "l.txt", out)
    assert res.ok and res.written == 2
    assert files_outside(tmp_path, [out, src, lists]) == []
    for rel in read_manifest(out)["blur"]:
        assert ".." not in rel.split("/") and (out / rel).resolve().is_relative_to(out.resolve())


# -- B2: the pixel limit is read the way the decoder sees the file -----------------------------------


@pytest.mark.parametrize(
    "name,data",
    [
        ("hdr_as.png", b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 16384 +X 16384\n" + b"\0" * 64),
        ("bomb.png", png_header_only(30000, 30000)),
        ("bomb.jpg", jpeg_header_only(60000, 60000)),
        ("bomb.tif", tiff_header_only(40000, 40000)),
        ("pfm.png", b"PF\n20000 20000\n-1.0\n" + b"\0" * 64),
        ("pnm.ppm", b"P6\n20000 20000\n255\n" + b"\0" * 64),
        ("exr.png", exr_header_only(20000, 20000)),
    ],
)
def test_b2_huge_headers_are_refused_before_decoding(tmp_path, name, data):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / name).write_bytes(data)
    res = _make(folder, tmp_path / "o")
    assert [s for s, _ in res.errors] == [name]
    assert "too large" in res.errors[0][1] and "--max-pixels" in res.errors[0][1]


def test_b2_small_hdr_named_png_obeys_max_pixels_like_a_png(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    hdr = np.random.default_rng(0).random((100, 100, 3)).astype(np.float32) * 0.5
    ok, buf = cv2.imencode(".hdr", hdr)
    assert ok
    buf.tofile(folder / "hdr.png")
    photo(folder / "real.png", 100, 100)
    res = _make(folder, tmp_path / "o", max_pixels=1000)
    assert sorted(s for s, _ in res.errors) == ["hdr.png", "real.png"]
    assert all("100x100" in r for _, r in res.errors)
    assert read_header(np.fromfile(folder / "hdr.png", np.uint8)).format == "hdr"


def test_o6_unknown_format_is_refused_when_its_size_cannot_be_told(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "noise.png").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    res = _make(folder, tmp_path / "o")
    assert "cannot decode" in res.errors[0][1] and "--max-pixels 0" in res.errors[0][1]


# -- B3: names too long for the file system --------------------------------------------------------


def test_b3_long_names_are_made_and_resume_completes(tmp_path):
    folder = tmp_path / "s"
    long_name = "x" * 237 + ".png"  # 241 bytes: the old temporary name went past 255
    photo(folder / long_name)
    photo(folder / "short.png", seed=1)
    out = tmp_path / "o"
    res = _make(folder, out, variants=2)  # `_v1` and `.json` push the name past the limit
    assert res.ok and res.written == 4, res.errors
    names = [p.name for p in out.rglob("*") if p.is_file()]
    assert all(len(n.encode()) <= 255 for n in names)
    assert not [n for n in names if n.endswith(".tmp")]
    again = _make(folder, tmp_path / "o2", variants=2)
    assert again.ok and sorted(read_manifest(out)["blur"]) == sorted(read_manifest(tmp_path / "o2")["blur"])
    res = _make(folder, out, variants=2, resume=True)
    assert res.skipped == 4 and res.written == 0
    assert verify_pairs(out) == []


# -- weak cases about formats ---------------------------------------------------------------------


def test_w6_float_tiff_holding_0_to_255_is_refused_not_clipped(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    cv2.imwrite(str(folder / "f.tif"), (np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.float32))
    cv2.imwrite(str(folder / "unit.tif"), np.random.default_rng(1).random((40, 40, 3)).astype(np.float32))
    res = _make(folder, tmp_path / "o")
    assert [s for s, _ in res.errors] == ["f.tif"] and "not 0..1" in res.errors[0][1]
    assert res.written == 1  # a float TIFF in 0..1 is fine


def test_o14_float_tiff_with_nan_is_refused(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    img = np.full((40, 40, 3), 0.5, np.float32)
    img[3, 3, 1] = np.nan
    cv2.imwrite(str(folder / "nan.tif"), img)
    res = _make(folder, tmp_path / "o")
    assert "nan" in res.errors[0][1].lower()


def test_w7_int32_tiff_is_an_unsupported_pixel_type(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    cv2.imwrite(str(folder / "i32.tif"), (np.random.default_rng(0).random((40, 40)) * 1000).astype(np.int32))
    res = _make(folder, tmp_path / "o")
    reason = res.errors[0][1]
    assert "32-bit signed integer" in reason and "unsupported pixel type" in reason
    assert "Assertion" not in reason and "OpenCV(" not in reason


def test_w8_multi_page_tiff_is_named_not_silently_cut(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    pages = [Image.fromarray(np.full((40, 40, 3), v, np.uint8)) for v in (10, 200, 90)]
    pages[0].save(folder / "multi.tif", save_all=True, append_images=pages[1:])
    res = _make(folder, tmp_path / "o")
    assert "3 pages" in res.errors[0][1]


def test_w9_dangling_and_looping_symlinks_are_reported(src, tmp_path):
    os.symlink(tmp_path / "gone.png", src / "dangling.png")
    os.symlink(src / "loop.png", src / "loop.png")
    res = _make(src, tmp_path / "o")
    reasons = dict(res.errors)
    assert "broken symbolic link" in reasons["dangling.png"] and "loop" in reasons["loop.png"]
    assert res.written == 3


def test_w10_newline_in_a_name_cannot_forge_an_output_line(src, tmp_path):
    photo(src / "evil\nfailed: p0.png: forged.png", seed=5)
    r = runner.invoke(app, ["make", "--src", str(src), "--out", str(tmp_path / "o"), "--length", "3,6", "--quiet"])
    assert r.exit_code == 0, r.output
    assert not [ln for ln in r.output.splitlines() if ln.startswith("failed:")]
    df = read_manifest(tmp_path / "o")
    assert "evil%0Afailed: p0.png: forged" in " ".join(df["blur"])  # the name is encoded, the key kept
    assert any("\n" in k for k in df["key"])


def test_o15_control_characters_in_failure_lines_are_escaped(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "bad\nname.png").write_bytes(b"garbage")
    r = runner.invoke(app, ["make", "--src", str(folder), "--out", str(tmp_path / "o"), "--quiet"])
    assert r.exit_code == 1
    failed = [ln for ln in r.output.splitlines() if ln.startswith("failed:")]
    assert len(failed) == 1 and "bad\\x0aname.png" in failed[0]


# -- W11/W12/W13: what --src and --out may be -------------------------------------------------------


def test_w11_flat_glob_into_the_photo_folder_never_touches_a_photo(src, tmp_path):
    before = tree_hash(src)
    res = _make(str(src / "*.png"), src / "pairs")
    assert res.ok and res.written == 3
    again = resolve_sources(str(src / "*.png"))
    assert len(again.sources) == 3  # outputs sit two levels down: the glob never matches them
    assert {k: v for k, v in tree_hash(src).items() if not k.startswith("pairs/")} == before
    with pytest.raises(ValueError, match="inside the source"):
        _make(str(src / "**" / "*.png"), src / "pairs2")
    with pytest.raises(ValueError, match="inside the source"):
        _make(src, src / "pairs3")


def test_o16_glob_whose_matches_include_the_output_folder_is_refused(src, tmp_path):
    res = _make(str(src / "*.png"), src / "pairs")
    assert res.ok
    with pytest.raises(ValueError, match="must not contain a source"):
        _make(str(src / "*" / "*" / "*.png"), src / "pairs", overwrite=True)


def test_w12_a_text_file_that_lists_no_image_is_not_a_source_list(tmp_path):
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")
    with pytest.raises(ValueError, match="not a list of images"):
        _make(passwd, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_o5_binary_list_file_is_one_clear_error(tmp_path):
    junk = tmp_path / "list.txt"
    junk.write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(ValueError, match="cannot read the list"):
        _make(junk, tmp_path / "o")


def test_w13_out_that_is_a_file(src, tmp_path):
    f = tmp_path / "file.png"
    f.write_bytes(b"data")
    r = runner.invoke(app, ["make", "--src", str(src), "--out", str(f)])
    assert r.exit_code == 2 and "is a file, not a folder" in r.output and "--resume" not in r.output
    assert f.read_bytes() == b"data"


def test_o17_empty_src_is_refused(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        _make("", tmp_path / "o")


# -- W4/W5: resume against a different or changed source set -----------------------------------------


def test_w4_resume_refuses_a_different_source_set(src, tmp_path):
    out = tmp_path / "o"
    _make(src, out, limit=1)
    other = tmp_path / "other"
    photo(other / "z.png")
    with pytest.raises(ValueError, match="sources"):
        _make(other, out, resume=True)
    # the same files at another path are the same source set
    moved = tmp_path / "moved"
    shutil.copytree(src, moved)
    res = _make(moved, out, resume=True)
    assert res.skipped == 1 and res.written == 2


def test_w5_resume_redoes_a_pair_whose_source_changed(src, tmp_path):
    out = tmp_path / "o"
    _make(src, out)
    row = read_manifest(out).set_index("source").loc["p1.png"]
    assert row["source_size"] == (src / "p1.png").stat().st_size
    old_sharp = (out / row["sharp"]).read_bytes()
    photo(src / "p1.png", seed=42)  # same size, new content
    res = _make(src, out, resume=True)
    assert res.written == 1 and res.skipped == 2
    assert (out / row["sharp"]).read_bytes() != old_sharp
    assert verify_pairs(out) == []


def test_o18_old_manifests_without_source_ids_still_resume(src, tmp_path):
    out = tmp_path / "o"
    _make(src, out)
    import json

    for meta in (out / "meta").glob("*.json"):
        row = json.loads(meta.read_text())
        row.pop("source_size")
        row.pop("source_sha256")
        meta.write_text(json.dumps(row))
    run = json.loads((out / "blurkit.json").read_text())
    run.pop("sources")
    (out / "blurkit.json").write_text(json.dumps(run))
    res = _make(src, out, resume=True)
    assert res.skipped == 3 and res.written == 0


# -- W16/W17: bad kernel banks, impossible windows --------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"garbage bytes, not numpy", b"\x93NUMPY\x01\x00garbage"])
def test_w16_bad_kernel_bank_is_one_error_line_exit_2(src, tmp_path, content):
    bank = tmp_path / "bank.npy"
    bank.write_bytes(content)
    r = runner.invoke(app, ["make", "--src", str(src), "--out", str(tmp_path / "o"), "--set", "kernel=bank",
                            "--set", f"bank={bank}", "--quiet"])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "bank.npy" in lines[0]
    assert "pickled" not in lines[0]
    assert not (tmp_path / "o").exists()


def test_w17_window_longer_than_every_sequence_is_explained(tmp_path):
    from blurkit.synth import average_frames

    for i in range(4):
        photo(tmp_path / f"frames/seq/{i:03d}.png", seed=i)
    with pytest.raises(ValueError, match="longer than every sequence.*4 frame"):
        average_frames(tmp_path / "frames", tmp_path / "o", window=7, progress=False)


# -- W18/W19: stray stderr lines, regeneration of lossy formats --------------------------------------


def test_w18_one_line_per_bad_file_and_nothing_from_the_c_libraries(tmp_path, capfd):
    folder = tmp_path / "s"
    photo(folder / "ok.png")
    data = (folder / "ok.png").read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 2])
    (folder / "junk.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    # an ancillary chunk with a bad CRC: decodes, but libpng prints "libpng warning: gAMA: CRC error"
    (folder / "warn.png").write_bytes(data[:33] + b"\x00\x00\x00\x04gAMA\x00\x00\xb1\x8f\x00\x00\x00\x00" + data[33:])
    from blurkit.cli import main

    with pytest.raises(SystemExit):
        import sys

        argv = sys.argv
        sys.argv = ["blurkit", "make", "--src", str(folder), "--out", str(tmp_path / "o"), "--quiet"]
        try:
            main()
        finally:
            sys.argv = argv
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len([ln for ln in lines if ln.startswith("failed:")]) == 2
    assert [ln for ln in lines if not ln.startswith(("failed:", "see "))] == [], err
    assert len(read_manifest(tmp_path / "o")) == 2  # ok.png and warn.png


def test_w19_jpg_regeneration_is_close_but_documented_as_not_byte_exact(src, tmp_path):
    from blurkit.io import read_image
    from blurkit.synth import regenerate_blurred
    from blurkit.synth.manifest import regenerate_blurred as doc

    out = tmp_path / "o"
    _make(src, out, fmt="jpg", overrides={"length": (3.0, 6.0), "shot": 0.0, "read": 0.0})
    key = read_manifest(out)["key"].iloc[0]
    again = regenerate_blurred(out, key)
    stored = read_image(out / read_manifest(out)["blur"].iloc[0])
    assert np.abs(again - stored).mean() < 0.02
    assert "not" in (doc.__doc__ or "") and "jpg" in (doc.__doc__ or "")


def test_o19_header_reader_agrees_with_the_decoder_on_real_files(tmp_path):
    img = (np.random.default_rng(0).random((23, 37, 3)) * 255).astype(np.uint8)
    for suffix in (".png", ".jpg", ".tif", ".webp", ".bmp", ".ppm", ".hdr", ".pfm"):
        arr = img.astype(np.float32) / 255 if suffix in (".hdr", ".pfm") else img
        ok, buf = cv2.imencode(suffix, arr)
        if not ok:
            continue
        h = read_header(buf)
        assert h is not None and (h.width, h.height) == (37, 23), suffix
        decoded = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        assert decoded.shape[:2] == (23, 37)


def test_o20_truncated_header_is_a_decode_failure_not_a_crash(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "t.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (folder / "u.tif").write_bytes(b"II*\x00\xff\xff\xff\x7f")
    res = _make(folder, tmp_path / "o")
    assert sorted(s for s, _ in res.errors) == ["t.png", "u.tif"]
    assert all("cannot decode" in r for _, r in res.errors)
    with pytest.raises(ImageReadError):
        from blurkit.io import read_image

        read_image(folder / "t.png", max_pixels=100)


def test_o21_errors_csv_keeps_hostile_names_in_one_row_each(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / 'comma, "quote"\n.png').write_bytes(b"junk")
    res = _make(folder, tmp_path / "o")
    df = pd.read_csv(tmp_path / "o" / "errors.csv")
    assert len(df) == 1 and df["source"].iloc[0] == 'comma, "quote"\n.png' and not res.ok


def test_o29_make_opens_nothing_for_writing_outside_out(tmp_path, monkeypatch):
    """Every open for writing during a hostile run (bad files, links, long and odd names, a glob with
    ``..``) names a path inside ``--out``; the sources are byte-identical afterwards."""
    import builtins

    trav = tmp_path / "t"
    photo(trav / "victim/ok.png")
    photo(trav / "victim/" f"{'y' * 240}.png", seed=1)
    photo(trav / "victim/odd\tname.png", seed=2)
    (trav / "victim/junk.png").write_bytes(b"junk")
    os.symlink(trav / "victim/ok.png", trav / "victim/link.png")
    os.symlink(trav / "victim/none.png", trav / "victim/dangling.png")
    (trav / "a/b/d1").mkdir(parents=True)
    before = tree_hash(trav)
    writes: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file, mode="r", *a, **k):
        if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+"):
            writes.append(os.path.abspath(file))
        return real_open(file, mode, *a, **k)

    def spy_os_open(path, flags, *a, **k):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND):
            writes.append(os.path.abspath(path))
        return real_os_open(path, flags, *a, **k)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    monkeypatch.chdir(trav)
    out = tmp_path / "out"
    res = _make("a/b/d*/../../../victim/*.png", out)
    monkeypatch.undo()
    assert res.written == 4 and sorted(s.rsplit("/", 1)[-1] for s, _ in res.errors) == ["dangling.png", "junk.png"]
    inside = os.path.realpath(out) + "/"
    outside = [w for w in writes if w != os.devnull and not (os.path.realpath(w) + "/").startswith(inside)]
    assert writes and outside == [], outside
    assert tree_hash(trav) == before
