"""Export a learned deblurrer to ONNX: ``python -m models.export --ckpt CKPT --out model.onnx``.

The exported graph takes ``image`` (B, 3, H, W) float32 sRGB in [0, 1] with dynamic batch, height and
width, and returns ``restored`` of the same shape in [0, 1]. The graph restores as the checkpoint's
deblurrer does, untiled: it reflect-pads to the network's size multiple and minimum size and crops
back, and runs the scale ensemble the checkpoint records (``[generator] scales``, e.g. the shipped
NAFNet's full, half and third resolution, averaged; ``models.tiling.restore_scales``). Reflection
cannot pad further than a side is long, so every pass needs sides above half the network's minimum
size (DeblurGAN 5 px, the spatially variant RNN 5, NAFNet 9, DeblurGAN-v2 17; at 1/3 resolution
three times that). Every checkpoint ``models.load_deblurrer`` reads works: DeblurGAN (shipped,
training, original ``netG``), DeblurGAN-v2, the spatially variant RNN (its scans run a fixed number
of steps in the graph, see ``models.archs.scan``) and NAFNet.
Needs the ``onnx`` extra (``pip install 'blurkit[onnx]'``).
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from blurkit.io import temp_file_for
from blurkit.scripting import run_main
from models.archs.deblurgan import SIZE_MULTIPLE
from models.base import load_deblurrer
from models.tiling import check_scales

# Sizes below are Python ints in eager mode and 0-dim tensors while traced for ONNX (what keeps the
# graph's height and width dynamic); the arithmetic is written to work on both, and typed as ints.


def _pad_amount(n: int, multiple: int, min_size: int) -> int:
    """Padding that brings a side of ``n`` to at least ``min_size`` and a multiple of ``multiple``
    (``models.tiling.pad_to_multiple``'s rule)."""
    target = cast(int, torch.clamp(torch.as_tensor(n), min=min_size)) if min_size > 1 else n
    return target - n + (multiple - target % multiple) % multiple


def _area_matrix(n_in: int, n_out: int, dtype: torch.dtype) -> torch.Tensor:
    """(n_out, n_in) rows that average the input cells each output cell covers: adaptive average
    pooling (``F.interpolate(mode="area")``) as a product, which traces with dynamic sizes."""
    i = torch.arange(n_out)
    start = torch.div(i * n_in, n_out, rounding_mode="floor")
    end = torch.div((i + 1) * n_in + n_out - 1, n_out, rounding_mode="floor")
    j = torch.arange(n_in)
    inside = (j[None, :] >= start[:, None]) & (j[None, :] < end[:, None])
    return inside.to(dtype) / (end - start).to(dtype)[:, None]


def _shrunk_side(n: int, scale: float) -> int:
    """``max(1, round(n / scale))`` (half to even, as Python's ``round``)."""
    return cast(int, torch.clamp(torch.round(torch.as_tensor(n) / scale), min=1).to(torch.int64))


def area_shrink(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` shrunk by area averaging to ``max(1, round(side / scale))`` on each side, as in
    ``models.tiling.restore_scales`` (the same numbers as ``F.interpolate(mode="area")``).

    >>> x = torch.rand(1, 3, 31, 40)
    >>> ref = F.interpolate(x, size=(10, 13), mode="area")
    >>> bool(torch.allclose(area_shrink(x, 3.0), ref, atol=1e-6))
    True
    """
    h, w = x.shape[-2], x.shape[-1]
    rows = _area_matrix(h, _shrunk_side(h, scale), x.dtype)
    cols = _area_matrix(w, _shrunk_side(w, scale), x.dtype)
    return torch.matmul(torch.matmul(rows, x), cols.transpose(0, 1))


class ExportWrapper(nn.Module):
    """[0, 1] image of any size → [0, 1] restored image: pad to a multiple of ``multiple`` (and at
    least ``min_size``), run, crop; with ``scales``, the scale ensemble of
    ``models.tiling.restore_scales`` (each pass at 1/scale of the size, corrections enlarged bicubically,
    the passes averaged), so that the graph restores as the checkpoint's deblurrer does."""

    def __init__(
        self,
        generator: nn.Module,
        multiple: int = SIZE_MULTIPLE,
        scales: Sequence[float] = (1.0,),
        min_size: int = 1,
    ) -> None:
        super().__init__()
        self.generator = generator
        self.multiple = multiple
        self.min_size = min_size
        self.scales = check_scales(scales)

    def _restore(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2], image.shape[-1]
        ph = _pad_amount(h, self.multiple, self.min_size)
        pw = _pad_amount(w, self.multiple, self.min_size)
        x = F.pad(image * 2.0 - 1.0, [0, pw, 0, ph], mode="reflect")
        return (self.generator(x)[:, :, :h, :w] + 1.0) * 0.5

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2], image.shape[-1]
        total: torch.Tensor | None = None
        for s in self.scales:
            if s == 1.0:
                y = self._restore(image)
            else:
                small = area_shrink(image, s)
                fix = F.interpolate(
                    self._restore(small) - small, size=(h, w), mode="bicubic", align_corners=False
                )
                y = image + fix
            total = y if total is None else total + y
        assert total is not None
        return (total / len(self.scales)).clamp(0.0, 1.0)


def exportable(spec: str) -> ExportWrapper:
    """The graph to export for a checkpoint: its network (images in [-1, 1]) with the padding its
    deblurrer uses (size multiple, minimum size) and the scale ensemble the checkpoint records.

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
    return ExportWrapper(
        net,
        multiple=int(getattr(model, "size_multiple", SIZE_MULTIPLE)),
        scales=tuple(getattr(model, "scales", (1.0,))),
        min_size=int(getattr(model, "min_size", 1)),
    )


def export_onnx(
    graph: nn.Module,
    out: str | os.PathLike[str],
    opset: int = 17,
    sample_size: int = 64,
    multiple: int = SIZE_MULTIPLE,
) -> Path:
    """Write ``graph`` as ONNX (dynamic batch/height/width) to ``out``, atomically.

    ``graph`` is an :class:`ExportWrapper` (what :func:`exportable` gives) or a bare generator, which
    is wrapped with padding to ``multiple`` and no scale ensemble.
    """
    if not isinstance(graph, ExportWrapper):
        graph = ExportWrapper(graph, multiple)
    graph.generator.float().eval().cpu()
    wrapper = graph.eval()
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
    graph = exportable(args.ckpt)
    path = export_onnx(graph, args.out, opset=args.opset)
    if len(graph.scales) > 1:
        passes = ", ".join("full size" if s == 1.0 else f"1/{s:g}" for s in graph.scales)
        print(f"wrote {path} (the mean of passes at {passes})")
    else:
        print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring): errors print one line and give 2."""
    return run_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
