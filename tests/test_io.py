import numpy as np
import pytest

from blurkit.io import ImageReadError, atomic_write_bytes, encode_image, list_images, read_image, write_image


def test_round_trip_8_and_16_bit(tmp_path):
    img = np.random.default_rng(0).random((10, 12, 3)).astype(np.float32)
    write_image(tmp_path / "a.png", img)
    write_image(tmp_path / "b.png", img, bits=16)
    a, b = read_image(tmp_path / "a.png"), read_image(tmp_path / "b.png")
    assert a.dtype == np.float32 and a.shape == (10, 12, 3)
    assert np.abs(a - img).max() <= 0.5 / 255 + 1e-6
    assert np.abs(b - img).max() <= 0.5 / 65535 + 1e-6


def test_gray_and_alpha_become_rgb(tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "g.png"), np.full((5, 6), 100, np.uint8))
    bgra = np.zeros((5, 6, 4), np.uint8)
    bgra[..., 2] = 200  # red
    bgra[..., 3] = 10
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    g, a = read_image(tmp_path / "g.png"), read_image(tmp_path / "a.png")
    assert g.shape == a.shape == (5, 6, 3)
    np.testing.assert_allclose(a[0, 0], [200 / 255, 0, 0], atol=1e-6)


def test_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert read_image(tmp_path / "r.jpg").shape == (40, 20, 3)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        read_image(tmp_path / "e.png")
    (tmp_path / "t.jpg").write_text("hello")
    with pytest.raises(ImageReadError, match="t.jpg"):
        read_image(tmp_path / "t.jpg")
    with pytest.raises(ValueError, match="suffix"):
        encode_image(np.zeros((2, 2, 3)), ".gif")


def test_atomic_write_leaves_no_temp_on_failure(tmp_path, monkeypatch):
    import os

    target = tmp_path / "x.bin"
    target.write_bytes(b"old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_list_images_sorted_recursive(tmp_path):
    for rel in ["b.png", "a/c.jpg", "a/notes.txt"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)] == ["a/c.jpg", "b.png"]


def test_atomic_writes_get_the_usual_permissions(tmp_path):
    """Renamed temporary files carry 0o666 less the umask, like any file the user writes, not
    mkstemp's private 0o600 (a dataset shared on a cluster must be readable by the group)."""
    import os
    import stat

    import torch

    from blurkit.synth.outputs import write_outputs
    from models.checkpoint import atomic_torch_save

    mask = os.umask(0o022)
    os.umask(mask)
    expected = 0o666 & ~mask
    write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.float32))
    atomic_write_bytes(tmp_path / "b.bin", b"x")
    atomic_torch_save({"x": torch.zeros(1)}, tmp_path / "c.pt")
    write_outputs(tmp_path, [("d/e.bin", b"y")])
    for name in ("a.png", "b.bin", "c.pt", "d/e.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name


def test_header_sizes_pages_and_refusals(tmp_path):
    import cv2
    import pytest
    from PIL import Image

    from blurkit.io import check_image_header, read_header

    img = (np.random.default_rng(0).random((9, 13, 3)) * 255).astype(np.uint8)
    for suffix in (".png", ".jpg", ".tif", ".webp", ".bmp", ".ppm"):
        h = read_header(cv2.imencode(suffix, img)[1])
        assert h is not None and (h.width, h.height, h.pages) == (13, 9, 1), suffix
    pages = [Image.fromarray(img), Image.fromarray(img[::-1])]
    pages[0].save(tmp_path / "two.tif", save_all=True, append_images=pages[1:])
    data = np.fromfile(tmp_path / "two.tif", np.uint8)
    assert read_header(data).pages == 2
    with pytest.raises(ImageReadError, match="2 pages"):
        check_image_header(data, tmp_path / "two.tif", 0)
    png = cv2.imencode(".png", img)[1]
    assert check_image_header(png, "x.png", 117).width == 13
    with pytest.raises(ValueError, match="too large.*13x9"):
        check_image_header(png, "x.png", 116)
    with pytest.raises(ImageReadError, match="unknown format"):
        check_image_header(np.frombuffer(b"not an image at all", np.uint8), "x.png", 10)
    assert check_image_header(np.frombuffer(b"not an image at all", np.uint8), "x.png", 0) is None


def test_long_names_get_short_temporary_files(tmp_path):
    from blurkit.io import NAME_MAX, shorten_name, temp_stem

    name = "é" * 120 + ".png"  # 244 bytes: fine as a name, too long with a temporary prefix/suffix
    atomic_write_bytes(tmp_path / name, b"data")
    assert (tmp_path / name).read_bytes() == b"data" and len(list(tmp_path.iterdir())) == 1
    assert len(temp_stem(name).encode()) + 14 <= NAME_MAX and temp_stem(name) == temp_stem(name)
    assert shorten_name("a" * 300, 100) != shorten_name("a" * 299 + "b", 100)
    assert len(shorten_name("a" * 300, 100).encode()) <= 100


def test_float_images_outside_unit_range_are_refused(tmp_path):
    import cv2
    import pytest

    cv2.imwrite(str(tmp_path / "hi.tif"), np.full((4, 4, 3), 3.0, np.float32))
    cv2.imwrite(str(tmp_path / "ok.tif"), np.full((4, 4, 3), 0.25, np.float32))
    with pytest.raises(ImageReadError, match="not 0..1"):
        read_image(tmp_path / "hi.tif")
    assert np.allclose(read_image(tmp_path / "ok.tif"), 0.25)


def test_png_level_changes_size_and_never_pixels(tmp_path):
    import cv2
    import pytest

    from blurkit.io import PNG_LEVEL

    img = (np.random.default_rng(3).random((30, 40, 3)) * 0.2 + np.linspace(0, 0.8, 40)[None, :, None]).astype(np.float32)
    encoded = {level: encode_image(img, ".png", png_level=level) for level in range(10)}
    assert encode_image(img, ".png") == encoded[PNG_LEVEL]
    assert len(encoded[0]) > len(encoded[9])
    pixels = [cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED) for b in encoded.values()]
    assert all(np.array_equal(p, pixels[0]) for p in pixels)
    write_image(tmp_path / "x.png", img, png_level=9)
    assert (tmp_path / "x.png").read_bytes() == encoded[9]
    for bad in (-1, 10, 2.0, True):
        with pytest.raises(ValueError, match="png_level"):
            encode_image(img, ".png", png_level=bad)


def test_png_modes_write_the_same_pixels():
    import cv2
    import pytest

    from blurkit.io import PNG_MODES, png_params

    rng = np.random.default_rng(4)
    img = np.clip(np.linspace(0, 200, 64)[None, :, None] + rng.normal(0, 6, (48, 64, 3)), 0, 255).astype(np.uint8)
    encoded = {(m, lv): encode_image(img, ".png", png_level=lv, png_mode=m) for m in PNG_MODES for lv in (0, 1, 9)}
    for b in encoded.values():
        assert np.array_equal(cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED), img[:, :, ::-1])
    assert encoded[("rle", 1)] != encoded[("zlib", 1)]
    assert len(encoded[("rle", 0)]) > len(encoded[("rle", 1)])
    assert cv2.IMWRITE_PNG_STRATEGY_RLE in png_params(1, "rle") and cv2.IMWRITE_PNG_STRATEGY not in png_params(1, "zlib")
    with pytest.raises(ValueError, match="png_mode: expected one of rle, zlib, got 'RLE'"):
        encode_image(img, ".png", png_mode="RLE")
