"""Running a fully convolutional network on images of any size.

``restore_padded`` reflect-pads to the network's size multiple (and minimum size) and crops back;
``restore_tiled`` splits a large image into overlapping tiles, runs each (padded) and blends them:
on a side shared with a neighbour, a tile's weight is 0 for the outer quarter of the overlap and
then ramps linearly to 1, so memory stays bounded and seams do not show. A network whose receptive
field radius is at most a quarter of the overlap gives exactly the untiled result.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Net = Callable[[torch.Tensor], torch.Tensor]


def pad_to_multiple(
    x: torch.Tensor, multiple: int, min_size: int = 1
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (B, C, H, W) at the bottom/right to multiples of ``multiple``, at least ``min_size``.

    Reflect padding where the image is large enough, replicate otherwise.

    Returns:
        The padded tensor and the original ``(H, W)``.

    >>> y, hw = pad_to_multiple(torch.zeros(1, 3, 37, 53), 4)
    >>> tuple(y.shape), hw
    ((1, 3, 40, 56), (37, 53))
    """
    if multiple < 1:
        raise ValueError(f"multiple: must be >= 1, got {multiple}")
    h, w = x.shape[-2:]
    th, tw = max(h, min_size), max(w, min_size)
    ph, pw = th - h + (-th) % multiple, tw - w + (-tw) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (int(h), int(w))


def restore_padded(net: Net, x: torch.Tensor, multiple: int, min_size: int = 1) -> torch.Tensor:
    """``net`` applied to ``x`` padded to ``multiple`` (and ``min_size``), cropped back to the input size."""
    xp, (h, w) = pad_to_multiple(x, multiple, min_size)
    return net(xp)[..., :h, :w]


def _ramp(n: int, overlap: int, low_shared: bool, high_shared: bool, device: torch.device) -> torch.Tensor:
    """1-D blend weights of a tile side of length ``n``; only sides shared with a neighbour ramp."""
    pos = torch.arange(n, device=device, dtype=torch.float32)
    margin = overlap // 4
    width = max(overlap - 2 * margin, 1)
    w = torch.ones(n, device=device)
    if low_shared:
        w = torch.minimum(w, torch.clamp((pos - margin + 1) / width, 0.0, 1.0))
    if high_shared:
        w = torch.minimum(w, torch.clamp((n - pos - margin) / width, 0.0, 1.0))
    return w


def _starts(size: int, tile: int, step: int) -> list[int]:
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, step))
    starts.append(size - tile)
    return starts


#: Pixels per forward pass when windows are stacked into a batch (at least one window per pass).
#: On 2 CPU cores, 1280×720 in 64 px windows with the compact RNN: 1.80 s one window at a time,
#: 0.78 s at 2**16 pixels, 1.34 s at 2**20 (larger batches leave the caches); the released RNN in
#: 128 px windows: 19.2 s, 19.1 s and 29.3 s.
TILE_BATCH_PIXELS = 1 << 16


def restore_tiled(
    net: Net, x: torch.Tensor, tile: int, overlap: int, multiple: int, min_size: int = 1
) -> torch.Tensor:
    """``net`` over overlapping ``tile``×``tile`` windows of ``x``, blended (linear ramps over ``overlap``).

    Windows all have one size, so small ones run stacked in batches of up to :data:`TILE_BATCH_PIXELS`
    pixels (the networks treat batch items independently).

    Args:
        net: maps (B, C, h, w) with h, w multiples of ``multiple`` to the same shape.
        x: (B, C, H, W) input.
        tile: window size in pixels (> ``overlap``).
        overlap: pixels shared by neighbouring windows.
        multiple: size multiple ``net`` needs (each window is padded as in :func:`restore_padded`).
        min_size: smallest input ``net`` accepts.
    """
    if tile <= 0 or overlap < 4 or overlap >= tile:
        raise ValueError(f"tile/overlap: need tile > overlap >= 4, got tile={tile}, overlap={overlap}")
    b, _, h, w = x.shape
    if b == 0 or h == 0 or w == 0:
        raise ValueError(f"x: empty image of shape {tuple(x.shape)}")
    step = tile - overlap
    th, tw = min(h, tile), min(w, tile)  # every window has this size
    boxes = [(top, left) for top in _starts(h, tile, step) for left in _starts(w, tile, step)]
    per_call = max(1, TILE_BATCH_PIXELS // (th * tw * b))  # windows stacked into one forward pass
    out: torch.Tensor | None = None
    weight = torch.zeros(1, 1, h, w, device=x.device)
    for i in range(0, len(boxes), per_call):
        chunk = boxes[i : i + per_call]
        patches = torch.cat([x[..., top : top + th, left : left + tw] for top, left in chunk])
        ys = restore_padded(net, patches, multiple, min_size).float()
        if out is None:
            out = torch.zeros(b, ys.shape[1], h, w, device=x.device)
        for j, (top, left) in enumerate(chunk):
            wy = _ramp(th, overlap, top > 0, top + th < h, x.device)
            wx = _ramp(tw, overlap, left > 0, left + tw < w, x.device)
            wgt = (wy[:, None] * wx[None, :])[None, None]
            out[..., top : top + th, left : left + tw] += ys[j * b : (j + 1) * b] * wgt
            weight[..., top : top + th, left : left + tw] += wgt
    assert out is not None
    return out / weight


def check_scales(scales: object) -> tuple[float, ...]:
    """``scales`` as a tuple of floats, each >= 1 (a ``ValueError`` naming the bad value otherwise).

    >>> check_scales([1, 3])
    (1.0, 3.0)
    """
    try:
        out = tuple(float(v) for v in scales)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ValueError(f"scales: need a list of numbers >= 1, got {scales!r}") from None
    if not out or any(not v >= 1.0 for v in out):
        raise ValueError(f"scales: need a non-empty list of numbers >= 1, got {list(out)}")
    return out


def restore_scales(run: Net, x: torch.Tensor, scales: tuple[float, ...]) -> torch.Tensor:
    """The mean over ``scales`` of ``run`` applied at 1/scale of the resolution (a scale ensemble).

    At scale 1 the estimate is ``run(x)``. At scale ``s > 1``, ``x`` is shrunk by area averaging to
    1/s of its size, restored there, and the correction ``run(d) - d`` is enlarged (bicubic) and
    added to ``x``: the network sees blur ``s`` times shorter and more detail per pixel, and only the
    lower frequencies of its correction reach the output. A network trained on photos with more
    detail per pixel than the images it restores (video frames) gains from the second estimate;
    averaging the two restores more than either alone (``benchmarks/RESULTS.md``).

    >>> x = torch.rand(1, 3, 24, 30)
    >>> bool(torch.allclose(restore_scales(lambda t: t + 0.1, x, (1.0, 3.0)), x + 0.1, atol=1e-5))
    True
    """
    h, w = x.shape[-2:]
    total: torch.Tensor | None = None
    for s in scales:
        if s == 1.0:
            y = run(x)
        else:
            size = (max(1, round(h / s)), max(1, round(w / s)))
            small = F.interpolate(x, size=size, mode="area")
            fix = F.interpolate(run(small) - small, size=(h, w), mode="bicubic", align_corners=False)
            y = x + fix
        total = y if total is None else total + y
    assert total is not None
    return total / len(scales)


class NetworkDeblurrer:
    """A network that maps images in [-1, 1] to restored images in [-1, 1], behind the
    :class:`models.base.Deblurrer` interface ([0, 1] in and out, any size).

    Images are reflect-padded to the network's ``size_multiple`` (at least ``min_size``) and cropped
    back; with ``tile`` set, images larger than ``tile`` run in overlapping tiles (bounded memory).
    Subclasses set ``size_multiple`` and ``min_size`` and may override :meth:`export_module`.
    ``scales`` other than ``(1.0,)`` average the restorations at those fractions of the resolution
    (:func:`restore_scales`).
    """

    needs_kernel = False
    size_multiple = 4
    min_size = 8

    def __init__(
        self,
        net: torch.nn.Module,
        device: str | torch.device = "cpu",
        tile: int | None = None,
        overlap: int = 64,
        name: str = "network",
        scales: tuple[float, ...] = (1.0,),
    ) -> None:
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.tile = tile
        self.overlap = overlap
        self.name = name
        self.scales = check_scales(scales)

    @property
    def module(self) -> torch.nn.Module:
        """The network (what ``benchmarks.runtime`` counts parameters and MACs of)."""
        return self.net

    def _run(self, x01: torch.Tensor) -> torch.Tensor:
        return (self.net(x01 * 2.0 - 1.0) + 1.0) * 0.5

    @torch.no_grad()
    def __call__(self, blurred: torch.Tensor, kernels: torch.Tensor | None = None) -> torch.Tensor:
        if blurred.ndim != 4 or blurred.shape[1] != 3:
            raise ValueError(f"blurred: expected a (B, 3, H, W) tensor, got shape {tuple(blurred.shape)}")
        x = blurred.to(self.device, torch.float32)
        y = restore_scales(self._restore, x, tuple(self.scales))
        return y.clamp(0.0, 1.0).to(blurred.device)

    def _restore(self, x: torch.Tensor) -> torch.Tensor:
        if self.tile is not None and max(x.shape[-2:]) > self.tile:
            return restore_tiled(self._run, x, self.tile, self.overlap, self.size_multiple, self.min_size)
        return restore_padded(self._run, x, self.size_multiple, self.min_size)

    def export_module(self) -> torch.nn.Module:
        """The network to trace for ONNX (in eval mode)."""
        return self.net.eval()
