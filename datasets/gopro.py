"""Download and prepare the GoPro deblurring dataset (Nah et al. 2017).

    python datasets/gopro.py [--root datasets/data] [--url URL]

The dataset (``GOPRO_Large.zip``, about 9 GB: 2103 train / 1111 test pairs at 1280×720) is
published on the authors' page https://seungjunnah.github.io/Datasets/gopro.html, which links to
file hosts that change over time; pass the current direct link with ``--url`` (or place the zip in
``<root>/archives/`` yourself). The download resumes with HTTP Range; the archive is checked against
``CHECKSUMS`` when a digest is recorded there (none is yet: the script prints the SHA-256 so that
it can be recorded), then unpacked to ``<root>/GOPRO_Large/{train,test}/<scene>/{blur,blur_gamma,sharp}/``,
the layout ``python -m benchmarks.gopro --root <root>`` reads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _download import download, extract

ARCHIVE = "GOPRO_Large.zip"
PAGE_URL = "https://seungjunnah.github.io/Datasets/gopro.html"
CHECKSUMS: dict[str, str | None] = {ARCHIVE: None}  # fill with "sha256:<hex>" once verified
DEFAULT_ROOT = Path(__file__).resolve().parent / "data"


def prepare(root: Path, url: str | None) -> Path:
    """Fetch (if needed), verify and unpack the archive; return the dataset folder."""
    archive = root / "archives" / ARCHIVE
    if not archive.is_file():
        if not url:
            raise FileNotFoundError(f"{archive}: not there; pass --url with the current link from {PAGE_URL}")
        download(url, archive, CHECKSUMS[ARCHIVE])
    target = root / "GOPRO_Large"
    if not (target / "test").is_dir():
        extract(archive, root)
    if not (target / "test").is_dir():
        raise FileNotFoundError(f"{target / 'test'}: not found after unpacking {archive}")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Download and prepare the GoPro deblurring dataset.")
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--url", default=None, help=f"direct link to {ARCHIVE} (see {PAGE_URL})")
    a = ap.parse_args(argv)
    try:
        target = prepare(a.root, a.url)
    except (ConnectionError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"GoPro ready: python -m benchmarks.gopro --root {target.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
