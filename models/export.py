"""Export a DeblurGAN generator to ONNX: ``python -m models.export --ckpt CKPT --out model.onnx``.

The exported graph takes ``image`` (B, 3, H, W) float32 sRGB in [0, 1] with dynamic batch, height and
width, and returns ``restored`` of the same shape in [0, 1]. Any height and width work: the graph
reflect-pads to a multiple of 4 and crops back, like :class:`models.deblurgan.DeblurGAN`.
Needs the ``onnx`` extra (``pip install 'blurkit[onnx]'``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from models.deblurgan import SIZE_MULTIPLE, Generator, load_generator


class ExportWrapper(nn.Module):
    """[0, 1] image of any size → [0, 1] restored image (pad to a multiple of 4, run, crop)."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2], image.shape[-1]
        ph = (SIZE_MULTIPLE - h % SIZE_MULTIPLE) % SIZE_MULTIPLE
        pw = (SIZE_MULTIPLE - w % SIZE_MULTIPLE) % SIZE_MULTIPLE
        x = F.pad(image * 2.0 - 1.0, [0, pw, 0, ph], mode="reflect")
        y = self.generator(x)[:, :, :h, :w]
        return ((y + 1.0) * 0.5).clamp(0.0, 1.0)


def export_onnx(
    generator: Generator, out: str | os.PathLike[str], opset: int = 17, sample_size: int = 64
) -> Path:
    """Write ``generator`` as ONNX (dynamic batch/height/width) to ``out`` atomically."""
    wrapper = ExportWrapper(generator.float().eval().cpu()).eval()
    example = torch.rand(1, 3, sample_size + 2, sample_size + 1)  # odd sizes: the padding path is traced
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        _export(wrapper, example, tmp, opset)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _export(wrapper: nn.Module, example: torch.Tensor, path: str, opset: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (example,),
            path,
            input_names=["image"],
            output_names=["restored"],
            dynamic_axes={
                "image": {0: "batch", 2: "height", 3: "width"},
                "restored": {0: "batch", 2: "height", 3: "width"},
            },
            opset_version=opset,
            dynamo=False,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    ap = argparse.ArgumentParser(
        prog="python -m models.export", description="Export a DeblurGAN generator to ONNX."
    )
    ap.add_argument(
        "--ckpt", required=True, help="checkpoint (shipped generator, training checkpoint or original netG)"
    )
    ap.add_argument("--out", required=True, help="output .onnx file")
    ap.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    args = ap.parse_args(argv)
    try:
        path = export_onnx(load_generator(args.ckpt), args.out, opset=args.opset)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
