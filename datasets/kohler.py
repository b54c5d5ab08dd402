"""Download and prepare the Köhler et al. (ECCV 2012) camera-shake benchmark.

    python datasets/kohler.py [--root datasets/data/kohler]

Fetches the 48 blurred images and the four ground-truth archives (PNG frame sequences) from the
authors' site, verifies them against the checksums below, resumes interrupted downloads (HTTP Range)
and unpacks them. Then it builds the uint8 frame caches ``.cache/GroundTruth{i}_{j}.npy`` that
``python -m benchmarks.kohler`` reads (``--no-cache`` skips that step).

Layout after preparation (what ``benchmarks/kohler.py`` expects under ``--root``)::

    Blurry{i}_{j}.png                                  i = image 1..4, j = kernel 1..12
    Image{i}/Kernel{j}/GroundTruth{i}_{j}_{k}.png       k = 1..~199 sharp frames
    .cache/GroundTruth{i}_{j}.npy                       (N, H, W, 3) uint8 stacks, built on first use

The archives' MD5 digests are those published with the deepinv ``Kohler`` dataset class; two of its
versions list the Image2 and Image4 digests swapped, so a mismatch on exactly those two files means
the record, not the file, may be wrong — check the printed digest.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _download import download, extract

BASE_URL = "http://people.kyb.tuebingen.mpg.de/rolfk/BenchmarkECCV2012/"
ARCHIVES = {
    "BlurryImages.zip": "md5:61ffb1434d93fca6c508976a7216d723",
    "GroundTruth_pngs_Image1.zip": "md5:acb90b6d9bfdb4b2370e08a5fcb80e68",
    "GroundTruth_pngs_Image2.zip": "md5:da440d3bf43b32bec0b7170ccd828f29",
    "GroundTruth_pngs_Image3.zip": "md5:3a77c41c951367f35db52eb18496bbac",
    "GroundTruth_pngs_Image4.zip": "md5:72ce9690c3ed1296358653396cf9576d",
}
DEFAULT_ROOT = Path(__file__).resolve().parent / "data" / "kohler"


def prepare(root: Path, build_cache: bool = True) -> None:
    """Download, verify, unpack and cache the benchmark under ``root``."""
    archives = root / "archives"
    for name, checksum in ARCHIVES.items():
        path = download(BASE_URL + name, archives / name, checksum)
        extract(path, root)
    _flatten_blurry(root)
    if build_cache:
        repo = Path(__file__).resolve().parents[1]
        sys.path.insert(0, str(repo))
        from benchmarks.kohler import find_kohler, load_frames

        for item in find_kohler(root):
            load_frames(root, item.image, item.kernel)
            print(f"cached ground truth {item.image}_{item.kernel}")


def _flatten_blurry(root: Path) -> None:
    """Move ``Blurry{i}_{j}.png`` found in a sub-folder of the archive up to ``root``."""
    for p in root.rglob("Blurry*_*.png"):
        if p.parent != root and not (root / p.name).exists():
            p.rename(root / p.name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Download and prepare the Köhler et al. 2012 benchmark.")
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--no-cache", action="store_true", help="do not build the .npy frame caches")
    a = ap.parse_args(argv)
    try:
        prepare(a.root, build_cache=not a.no_cache)
    except (ConnectionError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Köhler benchmark ready under {a.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
