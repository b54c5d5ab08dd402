"""Export a learned deblurrer to ONNX: ``python -m models.export --ckpt CKPT --out model.onnx``.

The exported graph takes ``image`` (B, 3, H, W) float32 sRGB in [0, 1] with dynamic batch, height and
width, and returns ``restored`` of the same shape in [0, 1]. The graph reflect-pads to the network's
size multiple and crops back, like the deblurrer wrappers: any size works for DeblurGAN and the
spatially variant RNN (multiple 4), sides of at least 32 for DeblurGAN-v2 (multiple 32; reflection
cannot pad further than the image is long). Every checkpoint ``models.load_deblurrer`` reads works:
DeblurGAN (shipped, training, original ``netG``), DeblurGAN-v2, the spatially variant RNN (its
scans run a fixed number of steps in the graph, see ``models.archs.scan``) and NAFNet.
Needs the ``onnx`` extra (``pip install 'blurkit[onnx]'``).
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from blurkit.io import temp_file_for
from blurkit.scripting import run_main
from models.archs.deblurgan import SIZE_MULTIPLE
from models.base import load_deblurrer


class ExportWrapper(nn.Module):
    """[0, 1] image of any size → [0, 1] restored image (pad to a multiple of ``multiple``, run, crop)."""

    def __init__(self, generator: nn.Module, multiple: int = SIZE_MULTIPLE) -> None:
        super().__init__()
        self.generator = generator
        self.multiple = multiple

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2], image.shape[-1]
        m = self.multiple
        ph = (m - h % m) % m
        pw = (m - w % m) % m
        x = F.pad(image * 2.0 - 1.0, [0, pw, 0, ph], mode="reflect")
        y = self.generator(x)[:, :, :h, :w]
        return ((y + 1.0) * 0.5).clamp(0.0, 1.0)


def exportable(spec: str) -> tuple[nn.Module, int]:
    """The network behind a checkpoint (images in [-1, 1]) and the size multiple it needs.

    Raises:
        ValueError: ``spec`` is no checkpoint, or its deblurrer is not a network (a classical method).
    """
    model = load_deblurrer(spec)
    prepare = getattr(model, "export_module", None)
    net = prepare() if callable(prepare) else None
    if not isinstance(net, nn.Module):
        raise ValueError(
            f"{spec}: {getattr(model, 'name', spec)} is not a network; there is nothing to export"
        )
    return net, int(getattr(model, "size_multiple", SIZE_MULTIPLE))


def export_onnx(
    generator: nn.Module,
    out: str | os.PathLike[str],
    opset: int = 17,
    sample_size: int = 64,
    multiple: int = SIZE_MULTIPLE,
) -> Path:
    """Write ``generator`` (with padding to ``multiple``) as ONNX (dynamic batch/height/width) to ``out``."""
    wrapper = ExportWrapper(generator.float().eval().cpu(), multiple).eval()
    example = torch.rand(1, 3, sample_size + 2, sample_size + 1)  # odd sizes: the padding path is traced
    path = Path(out)
    fd, tmp = temp_file_for(path)
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


def run(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, export, say where the file is."""
    ap = argparse.ArgumentParser(
        prog="python -m models.export", description="Export a learned deblurrer to ONNX."
    )
    ap.add_argument(
        "--ckpt",
        required=True,
        help="checkpoint of any learned model (DeblurGAN: also an original netG state dict)",
    )
    ap.add_argument("--out", required=True, help="output .onnx file")
    ap.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    args = ap.parse_args(argv)
    net, multiple = exportable(args.ckpt)
    path = export_onnx(net, args.out, opset=args.opset, multiple=multiple)
    print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring): errors print one line and give 2."""
    return run_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
