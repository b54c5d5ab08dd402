"""External kernel banks (e.g. Levin et al. 2009, Sun et al. 2013, kernels estimated elsewhere).

Formats: ``.npy`` (k×k or N×k×k), ``.npz`` (a ``kernels`` array, else every 2-D/3-D array in key
order), MATLAB ``.mat`` (numeric h×w or h×w×N arrays, MATLAB's layout, and cell arrays of 2-D
kernels), an 8/16-bit grayscale image (``.png``, ``.tif``: one kernel), or a folder of such files.
Every kernel is normalised like blurkit's own (non-negative, sum 1, centred, odd, cropped).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from blurkit.kernels.psf import normalize_kernel, stack_kernels

BANK_SUFFIXES = (".npy", ".npz", ".mat", ".png", ".tif", ".tiff")
#: A kernel image larger than this (pixels) is refused before decoding.
MAX_KERNEL_PIXELS = 4096 * 4096


def _from_array(arr: np.ndarray, where: str, matlab: bool = False) -> list[tuple[str, np.ndarray]]:
    a = np.asarray(arr)
    if a.dtype == object:
        out: list[tuple[str, np.ndarray]] = []
        for i, item in enumerate(a.ravel()):
            out.extend(_from_array(item, f"{where}{{{i}}}", matlab))
        return out
    if a.dtype.kind not in "fiub":
        return []
    if a.ndim == 2:
        return [(where, a)]
    if a.ndim == 3:
        stack = np.moveaxis(a, -1, 0) if matlab else a
        return [(f"{where}[{i}]", k) for i, k in enumerate(stack)]
    return []


_MAGIC = {".npy": (b"\x93NUMPY",), ".npz": (b"PK\x03\x04", b"PK\x05\x06")}


def _check_magic(p: Path, suffix: str) -> None:
    if suffix not in _MAGIC:
        return
    with open(p, "rb") as f:
        head = f.read(8)
    if not head:
        raise ValueError("empty file (0 bytes)")
    if not head.startswith(_MAGIC[suffix]):
        kind = "NumPy .npy" if suffix == ".npy" else "NumPy .npz (zip)"
        raise ValueError(f"not a {kind} file (it starts with {head[:6]!r})")


def _read_file(p: Path) -> list[tuple[str, np.ndarray]]:
    suffix = p.suffix.lower()
    try:
        _check_magic(p, suffix)
        if suffix == ".npy":
            return _from_array(np.load(p, allow_pickle=False), str(p))
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                keys = ["kernels"] if "kernels" in z.files else list(z.files)
                return [item for key in keys for item in _from_array(z[key], f"{p}:{key}")]
        if suffix == ".mat":
            import scipy.io

            mat = scipy.io.loadmat(p)
            return [
                item
                for key, value in mat.items()
                if not key.startswith("__")
                for item in _from_array(value, f"{p}:{key}", matlab=True)
            ]
        if suffix in (".png", ".tif", ".tiff"):
            from blurkit.io import check_image_header, read_file_bytes

            data = read_file_bytes(p)
            check_image_header(data, p, MAX_KERNEL_PIXELS)
            img = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise ValueError("cannot decode image")
            return [(str(p), img.astype(np.float64))]
    except (OSError, ValueError, EOFError, KeyError, NotImplementedError) as exc:
        raise ValueError(f"{p}: cannot read kernel bank ({exc})") from exc
    except Exception as exc:  # zip, MATLAB and image readers raise their own types on garbage
        raise ValueError(f"{p}: cannot read kernel bank ({type(exc).__name__}: {exc})") from exc
    raise ValueError(f"{p}: unsupported kernel bank format (use one of {', '.join(BANK_SUFFIXES)})")


def load_kernel_bank(path: str | os.PathLike[str], size: int | None = None) -> np.ndarray:
    """Load, normalise and stack every kernel of a bank file or folder into (N, k, k) float32.

    Args:
        path: a bank file or a folder of bank files (read in sorted order).
        size: impose an odd kernel size (kernels too large are shrunk to fit); ``None`` keeps each
            kernel's own support and zero-pads the stack to the largest.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: unreadable file, no kernel found, or a kernel with no positive mass (named).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such kernel bank")
    files = sorted(q for q in p.iterdir() if q.suffix.lower() in BANK_SUFFIXES) if p.is_dir() else [p]
    raw = [item for f in files for item in _read_file(f)]
    if not raw:
        raise ValueError(f"{p}: no 2-D kernels found")
    return stack_kernels([normalize_kernel(k, name=name, size=size) for name, k in raw])
