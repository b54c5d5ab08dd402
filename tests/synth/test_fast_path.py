"""The CPU path of ``make``: no torch, 8-bit chain, and PNG sources written as their own sharp image."""

import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from blurkit.io import is_plain_rgb8_png, read_image_uint8
from blurkit.synth import make_dataset, read_manifest
from blurkit.synth.manifest import sha256_file

REPO = Path(__file__).resolve().parents[2]


def _png(img: np.ndarray, level: int = 3) -> bytes:
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, level])
    assert ok
    return buf.tobytes()


def _with_chunk(png: bytes, kind: bytes, payload: bytes) -> bytes:
    """``png`` with one more chunk right after IHDR (8-byte signature + 25-byte IHDR chunk)."""
    chunk = len(payload).to_bytes(4, "big") + kind + payload
    chunk += zlib.crc32(kind + payload).to_bytes(4, "big")
    return png[:33] + chunk + png[33:]


def _scene(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, w)[None, :, None] * np.ones((h, 1, 3))
    return np.clip(base * 0.7 + rng.integers(0, 60, (h, w, 3)), 0, 255).astype(np.uint8)


def test_plain_rgb8_png_is_recognised_and_everything_else_is_not():
    rgb = _scene()
    plain = _png(rgb)
    assert is_plain_rgb8_png(plain)
    assert is_plain_rgb8_png(np.frombuffer(plain, np.uint8))
    assert is_plain_rgb8_png(_with_chunk(plain, b"tIME", bytes(7)))
    others = {
        "gray": _png(rgb[:, :, 0]),
        "rgba": _png(np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)])),
        "16-bit": _png(rgb.astype(np.uint16) * 257),
        "gamma chunk": _with_chunk(plain, b"gAMA", (45455).to_bytes(4, "big")),
        "text chunk": _with_chunk(plain, b"tEXt", b"Author\x00someone"),
        "truncated": plain[:-5],
        "trailing bytes": plain + b"x",
        "jpeg": cv2.imencode(".jpg", rgb)[1].tobytes(),
        "empty": b"",
    }
    for name, data in others.items():
        assert not is_plain_rgb8_png(data), name


def test_plain_png_sources_are_written_as_the_sharp_image(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    rgb = _scene()
    (src / "plain.png").write_bytes(_png(rgb, level=9))
    (src / "gamma.png").write_bytes(_with_chunk(_png(rgb, level=9), b"gAMA", (45455).to_bytes(4, "big")))
    (src / "deep.png").write_bytes(_png(rgb.astype(np.uint16) * 257))
    out = tmp_path / "pairs"
    res = make_dataset(src, out, seed=2, overrides={"length": (3.0, 9.0)}, progress=False)
    assert res.ok and res.written == 3
    rows = read_manifest(out).set_index("source")
    # the plain PNG's bytes are copied; the others are encoded again at blurkit's level
    assert (out / rows.loc["plain.png", "sharp"]).read_bytes() == (src / "plain.png").read_bytes()
    assert rows.loc["plain.png", "sharp_sha256"] == rows.loc["plain.png", "source_sha256"]
    for name in rows.index:  # every recorded checksum is that of the file as written
        for side in ("blur", "sharp"):
            assert rows.loc[name, f"{side}_sha256"] == sha256_file(out / rows.loc[name, side]), (name, side)
    for name in ("gamma.png", "deep.png"):
        assert (out / rows.loc[name, "sharp"]).read_bytes() != (src / name).read_bytes(), name
    # every sharp image decodes to the same levels, copied or not
    for name in rows.index:
        assert np.array_equal(read_image_uint8(out / rows.loc[name, "sharp"]), rgb[:, :, ::-1]), name
    # a JPEG pair never copies
    jpg = tmp_path / "jpg"
    make_dataset(src, jpg, seed=2, overrides={"length": (3.0, 9.0)}, fmt="jpg", progress=False)
    assert (jpg / read_manifest(jpg).set_index("source").loc["plain.png", "sharp"]).read_bytes()[:2] == b"\xff\xd8"


def test_copied_and_encoded_sharp_images_give_the_same_blurred_bytes(tmp_path):
    """The copy changes how the sharp file is written, not the pixels the blur starts from."""
    rgb = _scene(seed=3)
    plain, gamma = tmp_path / "a", tmp_path / "b"
    plain.mkdir()
    gamma.mkdir()
    (plain / "x.png").write_bytes(_png(rgb))
    (gamma / "x.png").write_bytes(_with_chunk(_png(rgb), b"gAMA", (45455).to_bytes(4, "big")))
    for folder in (plain, gamma):
        make_dataset(folder, tmp_path / f"out_{folder.name}", seed=5, progress=False)
    a, b = (read_manifest(tmp_path / f"out_{n}").iloc[0] for n in ("a", "b"))
    assert a["blur_sha256"] == b["blur_sha256"]


@pytest.mark.parametrize("preset", ["realistic", "deblurgan"])
def test_make_on_the_cpu_never_imports_torch(tmp_path, preset):
    """torch costs seconds to import: a CPU ``make`` of chain-2 pairs must run without it."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_bytes(_png(_scene()))
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from blurkit.cli import main\n"
        f"sys.argv = ['blurkit', 'make', '--src', {str(src)!r}, '--out', {str(tmp_path / 'out')!r},"
        f" '--preset', {preset!r}, '--quiet']\n"
        "main()\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(read_manifest(tmp_path / "out")) == 1


def _items(n: int):
    from blurkit.synth.job import Item

    return [Item(source=Path(f"s{i}.png"), rel=f"s{i}.png", variant=0, key=f"s{i}", name=f"s{i}", seed=i) for i in range(n)]


def _job(load, finish):
    from blurkit.synth.job import Job

    def whole(item):
        return finish(item, load(item))

    return Job(out=Path("."), items=[], settings={}, fn=whole, stages=(load, finish))


def test_threaded_items_read_on_the_calling_thread_and_fail_alone():
    import threading

    from blurkit.synth.workers import in_threads

    caller = threading.current_thread()
    readers, writers = set(), set()

    def load(item):
        readers.add(threading.current_thread())
        if item.key == "s2":
            raise ValueError(f"{item.source}: cannot decode")
        return item.seed * 10

    def finish(item, loaded):
        writers.add(threading.current_thread())
        return {"key": item.key, "value": loaded}

    results = list(in_threads(_items(6), _job(load, finish), lanes=2))
    assert readers == {caller} and caller not in writers
    rows = {it.key: row for it, row, err in results if err is None}
    errors = {it.key: err for it, row, err in results if err is not None}
    assert rows == {f"s{i}": {"key": f"s{i}", "value": i * 10} for i in (0, 1, 3, 4, 5)}
    assert errors == {"s2": "s2.png: cannot decode"}


def test_an_output_error_stops_threaded_items_and_starts_no_other():
    import threading

    from blurkit.synth.job import OutputError
    from blurkit.synth.workers import in_threads

    started = []
    lock = threading.Lock()

    def finish(item, loaded):
        with lock:
            started.append(item.key)
        if item.key == "s3":
            raise OutputError("disk full")
        return {"key": item.key}

    with pytest.raises(OutputError, match="disk full"):
        list(in_threads(_items(20), _job(lambda it: None, finish), lanes=2))
    assert "s3" in started and len(started) <= 3 + 1 + 2  # s0..s3, at most the lanes' worth after it
