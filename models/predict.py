"""Deblur images: ``python -m models.predict --ckpt CKPT --src PHOTO.jpg|DIR|'GLOB' --out DIR``.

    --ckpt SPEC      checkpoint file (shipped generator, training checkpoint, original DeblurGAN
                     ``netG``) or a registered name (``identity``, ``unsharp``)
    --src SRC        what to deblur: one image file, a folder (searched recursively) or a quoted
                     glob (``'shots/*.jpg'``, ``'**'`` recursive)
    --out DIR        where restored images go, same relative paths (PNG for lossy inputs); for a
                     glob, paths relative to the matches' common folder
    --device DEV     ``cpu`` (default) or ``cuda``
    --batch N        images per forward pass when sizes agree (default 1)
    --tile T         images larger than T pixels on a side are processed in overlapping tiles
                     (0 disables tiling; default: the model's own tile where it has one — an RNN
                     checkpoint's ``sweep_tile`` — else 512)
    --scales 1,2,3   networks: average the restorations at full resolution, at half and at a third
                     of it (default: the model's own ``scales``; the shipped NAFNet uses 1,2,3)
    --overwrite      replace existing outputs (default: skip them)

Any image size works: learned models reflect-pad to their size multiple and crop back.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from blurkit.io import list_images, read_image, write_image
from blurkit.scripting import run_main
from blurkit.tensors import to_image, to_tensor
from models.base import Deblurrer, load_deblurrer
from models.checkpoint import network_names
from models.tiling import check_scales

#: Tile size for large images when neither ``--tile`` nor the model gives one (bounds memory).
DEFAULT_TILE = 512


@dataclass
class PredictSummary:
    """Counts of what :func:`predict_folder` did."""

    written: int
    skipped: int


def resolve_inputs(src: str | Path) -> tuple[Path, list[Path]]:
    """The images named by ``src`` and the folder their output paths are taken relative to.

    ``src`` is one image file (its folder is the root), a folder (all images under it) or a glob
    pattern (``*``, ``?``, ``[...]``; ``**`` matches folders recursively; the root is the common
    folder of the matches).

    Raises:
        FileNotFoundError: no such file or folder, or nothing matches the pattern.
        ValueError: a file that is not an image.
    """
    import glob
    import os

    from blurkit.io import IMAGE_SUFFIXES

    text = str(src)
    path = Path(text)
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(f"{path}: not an image file (expected one of {', '.join(sorted(IMAGE_SUFFIXES))})")
        return path.parent, [path]
    if path.is_dir():
        return path, list_images(path)
    if not glob.has_magic(text):
        raise FileNotFoundError(f"{path}: no such file or folder")
    matches = sorted(
        {Path(m).resolve() for m in glob.glob(text, recursive=True)
         if Path(m).is_file() and Path(m).suffix.lower() in IMAGE_SUFFIXES}
    )
    if not matches:
        raise FileNotFoundError(f"{text}: no image matches this pattern")
    root = Path(os.path.commonpath([m.parent for m in matches]))
    return root, matches


def output_path(src_root: Path, path: Path, out_root: Path) -> Path:
    """Output path of ``path``: same relative path under ``out_root``; lossy formats become PNG."""
    rel = path.relative_to(src_root)
    if rel.suffix.lower() not in (".png", ".bmp", ".tif", ".tiff"):
        rel = rel.with_suffix(".png")
    return out_root / rel


def predict_folder(
    model: Deblurrer,
    src: str | Path,
    out: str | Path,
    batch: int = 1,
    overwrite: bool = False,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> PredictSummary:
    """Restore the images of ``src`` (a file, a folder or a glob: :func:`resolve_inputs`) into ``out``;
    consecutive images of one size share a batch.

    Raises:
        FileNotFoundError: ``src`` is missing or matches no image.
        ValueError: ``batch`` < 1, ``src`` equals ``out``, or a model that needs the true kernel.
    """
    from tqdm import tqdm

    out_root = Path(out)
    if batch < 1:
        raise ValueError(f"batch: must be >= 1, got {batch}")
    if model.needs_kernel:
        raise ValueError(f"{model.name}: needs the true blur kernel; it cannot deblur a folder of images")
    src_root, images = resolve_inputs(src)
    if src_root.resolve() == out_root.resolve() and Path(src).is_dir():
        raise ValueError(f"--out {out_root}: must differ from --src")
    todo: list[tuple[Path, Path]] = []
    skipped = 0
    for p in images:
        dst = output_path(src_root, p, out_root)
        if dst.resolve() == p.resolve():
            raise ValueError(f"{p}: the output would overwrite this input; choose another --out")
        if out_root.resolve() in p.resolve().parents:
            continue
        if dst.exists() and not overwrite:
            skipped += 1
            continue
        todo.append((p, dst))
    written = 0
    pending: list[tuple[np.ndarray, Path]] = []
    for p, dst in tqdm(todo, disable=not progress, desc="deblur"):
        img = read_image(p)
        if pending and (pending[0][0].shape != img.shape or len(pending) >= batch):
            written += _restore_batch(model, pending, device)
        pending.append((img, dst))
    written += _restore_batch(model, pending, device)
    return PredictSummary(written=written, skipped=skipped)


def _restore_batch(model: Deblurrer, pending: list[tuple[np.ndarray, Path]], device: str | torch.device) -> int:
    """Restore the same-size images of ``pending`` in one batch, write them, empty ``pending``;
    returns how many were written."""
    if not pending:
        return 0
    x = to_tensor(np.stack([img for img, _ in pending]), device)
    y = to_image(model(x).clamp(0, 1))
    for (_, dst), restored in zip(pending, y, strict=True):
        write_image(dst, restored)
    count = len(pending)
    pending.clear()
    return count


PREDICT_EPILOG = """\
shipped checkpoints (models/weights/):
  deblurgan_blurkit.pt  reduced DeblurGAN generator (3.9 MB), 50 minutes on 2 CPU cores (deblurgan_cpu.toml)
  svrnn_blurkit.pt      compact spatially variant RNN (0.2 MB), 20 minutes on 2 CPU cores (svrnn_cpu.toml)
  nafnet_blurkit.pt     small NAFNet (0.9 MB), 16,500 steps on 2 CPU cores (nafnet_cpu.toml), synthetic video-style blur
--ckpt also takes a training checkpoint (runs/NAME/checkpoint.pt) of any model family
({families}), an original DeblurGAN generator state dict, or a registered name (identity, unsharp).

--src takes one image file, a folder (searched recursively) or a quoted glob ('shots/**/*.png').

example:
  python -m models.predict --ckpt models/weights/svrnn_blurkit.pt --src blurry/ --out restored/
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m models.predict`` (see the module docstring)."""
    ap = argparse.ArgumentParser(
        prog="python -m models.predict",
        description="Deblur images: one file, a folder or a glob.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=PREDICT_EPILOG.format(families=", ".join(network_names())),
    )
    ap.add_argument("--ckpt", required=True, help="checkpoint file or registered deblurrer name")
    ap.add_argument("--src", required=True, help="an image file, a folder, or a quoted glob such as 'shots/*.jpg'")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ...")
    ap.add_argument("--batch", type=int, default=1, help="images per forward pass (same-size images)")
    ap.add_argument(
        "--tile",
        type=int,
        default=None,
        help="tile size for large images (0: no tiling; default: the model's own, else 512)",
    )
    ap.add_argument(
        "--scales",
        default=None,
        help="networks: average restorations at these fractions of the resolution, e.g. 1,3 "
        "(default: the model's own; 1 for full resolution only)",
    )
    ap.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return ap


def run(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, restore the images, say how many were written."""
    args = build_parser().parse_args(argv)
    if args.tile is not None and args.tile < 0:
        raise ValueError(f"--tile: must be >= 0, got {args.tile}")
    model = load_deblurrer(args.ckpt, device=args.device)
    if hasattr(model, "tile"):
        if args.tile is not None:
            model.tile = args.tile or None
        elif model.tile is None:
            model.tile = DEFAULT_TILE
    if args.scales is not None:
        if not hasattr(model, "scales"):
            raise ValueError(f"--scales: {args.ckpt} is not a network deblurrer; it takes no scales")
        model.scales = check_scales([v for v in args.scales.split(",") if v.strip()])
    summary = predict_folder(model, args.src, args.out, args.batch, args.overwrite, args.device, progress=True)
    print(
        f"wrote {summary.written} images to {args.out}; skipped {summary.skipped} existing (use --overwrite)"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring): errors print one line and give 2."""
    return run_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
