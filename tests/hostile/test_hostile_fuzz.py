"""Seeded random fuzzing of the parsers that see hostile bytes and names first (no extra dependency)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import exr_header_only, jpeg_header_only, png_header_only, tiff_header_only

from blurkit.io import ImageReadError, check_image_header, read_header
from blurkit.synth.items import output_name
from blurkit.synth.outputs import inside_out

MAGICS = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8", b"II*\x00", b"MM\x00*", b"II+\x00", b"RIFF\x00\x00\x00\x00WEBP", b"BM",
          b"P6\n", b"P7\n", b"PF\n", b"#?RADIANCE\n", b"\x76\x2f\x31\x01", b"\x59\xa6\x6a\x95", b"GIF89a"]


def test_header_reader_never_crashes_on_mutated_headers():
    rng = np.random.default_rng(0)
    seeds = [png_header_only(64, 64), jpeg_header_only(64, 64), tiff_header_only(64, 64), exr_header_only(64, 64)]
    for i in range(3000):
        if i % 2:
            data = bytearray(seeds[i % len(seeds)])
            for _ in range(int(rng.integers(1, 6))):
                data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
            data = bytes(data[: int(rng.integers(1, len(data) + 1))])
        else:
            tail = rng.integers(0, 256, int(rng.integers(0, 64)), dtype=np.uint8).tobytes()
            data = MAGICS[i % len(MAGICS)] + tail
        header = read_header(np.frombuffer(data, np.uint8))
        assert header is None or isinstance(header.width, int)
        try:
            check_image_header(np.frombuffer(data, np.uint8), "fuzz.png", 10_000)
        except (ImageReadError, ValueError) as exc:
            assert "fuzz.png" in str(exc)


def test_output_names_always_stay_inside_the_output_folder(tmp_path):
    rng = np.random.default_rng(1)
    alphabet = [*"ab./\\\n\t\x00\x7f~%é ", "..", "../", "/"]
    for _ in range(2000):
        stem = "".join(alphabet[int(k)] for k in rng.integers(0, len(alphabet), int(rng.integers(1, 20))))
        name = output_name(stem)
        assert all(ord(c) >= 32 and ord(c) != 127 for c in name)
        assert all(len(part.encode()) <= 250 for part in name.split("/"))
        try:
            target = inside_out(tmp_path, f"blur/{name}.png")
        except ValueError:
            continue
        assert os.path.realpath(target).startswith(os.path.realpath(tmp_path) + os.sep)


@pytest.mark.parametrize("n", [1, 2, 7])
def test_output_name_is_deterministic_and_keeps_distinct_names_distinct(n):
    names = {output_name("x" * 300 + str(i)) for i in range(n)}
    assert len(names) == n and {output_name("x" * 300 + str(i)) for i in range(n)} == names
