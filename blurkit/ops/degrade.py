"""The degradation chain: sharp image → realistic blurry image, seeded and recorded.

Steps, in order (each optional except the blur):

1. display → linear light (``response``: sRGB curve, power law, or none);
2. highlight boost: a stand-in for the scene radiance that a saturated sensor clipped. With
   ``highlight = "clipped"`` (the default) only channels at or above ``highlight_threshold`` in linear
   light (0.995: of 8-bit values, 255 alone) are multiplied by ``boost``; clipping them again gives
   the sharp image back, so the sharp image *is* the clipped scene and a static region has the same
   value on both sides of a pair. ``highlight = "ramp"`` is the chain of blurkit 0.1 (pixels whose
   luminance exceeds the threshold, 0.9 there, scaled by a soft ramp up to ``boost``): it also
   brightens highlights that were never clipped, on the blurred side only, so its blurred images
   are brighter than their sharp targets; it is kept so that older pair folders regenerate;
3. blur with the sample's kernel (true convolution, ``border`` mode recorded); with probability
   ``local`` only inside a random smooth region (an object that moved while the rest of the scene
   stood still: outside it the scene stays sharp, as in most of a real video frame);
4. saturation: clip to the sensor's full scale [0, 1] (highlights smear into streaks);
5. Poisson–Gaussian sensor noise (``shot``, ``read``), clipped to [0, 1];
6. linear → display;
7. JPEG round trip at ``jpeg_quality``.

Sampling is separated from applying: :func:`sample_degradation` turns ``(seed, config)`` into a plain
dict (every drawn value, the kernel's 64-bit seed, the noise seed); :func:`apply_degradation` applies
recorded dicts to a batch. The same seed and config give the same bytes on the same kind of device.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from blurkit.kernels.bank import load_kernel_bank
from blurkit.kernels.line import line_kernel
from blurkit.kernels.psf import check_size, normalize_kernel, stack_kernels
from blurkit.kernels.trajectory import TrajectoryParams, kernels_from_seeds
from blurkit.ops.color import from_linear, luminance, parse_response, to_linear
from blurkit.ops.convolve import convolve
from blurkit.ops.noise import poisson_gaussian

Range = tuple[float, float]
KERNEL_SOURCES = ("trajectory", "line", "bank")
HIGHLIGHT_MODELS = ("clipped", "ramp")
BORDERS = ("reflect", "replicate", "zero", "circular")


def _range(name: str, value: Any, lo: float = 0.0, hi: float = math.inf) -> Range:
    try:
        a, b = (value, value) if np.isscalar(value) else value
        pair = (float(a), float(b))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number or a (low, high) pair, got {value!r}") from None
    if not all(math.isfinite(v) for v in pair) or pair[0] > pair[1] or pair[0] < lo or pair[1] > hi:
        raise ValueError(f"{name}: expected low <= high within [{lo}, {hi}], got {value!r}")
    return pair


@dataclass(frozen=True)
class DegradeConfig:
    """Every knob of the chain. Ranges are ``(low, high)``; a single number fixes the value.

    Kernel: ``kernel`` picks the source. ``trajectory`` uses the camera-shake fields (``samples``,
    ``length``, ``anxiety``, ``centripetal``, ``big_shake``, ``gaussian_shake``, ``exposure``; see
    :class:`blurkit.kernels.TrajectoryParams`); ``line`` uses ``length`` and ``angle``; ``bank`` draws
    uniformly from the kernels of the file ``bank``. ``kernel_size`` imposes an odd size (``None``
    fits each kernel).

    Noise levels ``shot`` and ``read`` are drawn log-uniformly when both ends are positive.

    Highlights: ``highlight`` (``clipped`` or ``ramp``) and ``highlight_threshold`` choose which
    pixels ``boost`` raises (module docstring). ``local`` is the probability that a sample's blur
    covers only a random region (:func:`local_mask`); the rest of the image stays sharp.
    """

    kernel: str = "trajectory"
    samples: int = 2000
    length: Range = (60.0, 60.0)
    anxiety: Range = (0.003, 0.01)
    centripetal: Range = (0.0, 0.7)
    big_shake: Range = (0.0, 0.2)
    gaussian_shake: Range = (0.0, 10.0)
    exposure: tuple[float, ...] = (1.0,)
    angle: Range = (0.0, 180.0)
    bank: str | None = None
    kernel_size: int | None = None
    response: str = "srgb"
    boost: Range = (1.0, 1.0)
    highlight: str = "clipped"
    highlight_threshold: float = 0.995
    shot: Range = (0.0, 0.0)
    read: Range = (0.0, 0.0)
    jpeg_quality: tuple[int, int] | None = None
    border: str = "reflect"
    local: float = 0.0

    def __post_init__(self) -> None:
        if self.kernel not in KERNEL_SOURCES:
            raise ValueError(f"kernel: expected one of {KERNEL_SOURCES}, got {self.kernel!r}")
        if self.kernel == "bank" and not self.bank:
            raise ValueError("bank: a kernel bank file is required when kernel='bank'")
        if self.border not in BORDERS:
            raise ValueError(f"border: expected one of {BORDERS}, got {self.border!r}")
        parse_response(self.response)
        if self.highlight not in HIGHLIGHT_MODELS:
            raise ValueError(f"highlight: expected one of {HIGHLIGHT_MODELS}, got {self.highlight!r}")
        if self.kernel_size is not None:
            check_size(self.kernel_size)
        if not 0.0 <= float(self.highlight_threshold) < 1.0:
            raise ValueError(f"highlight_threshold: must be in [0, 1), got {self.highlight_threshold}")
        if not 0.0 <= float(self.local) <= 1.0:
            raise ValueError(f"local: a probability in [0, 1], got {self.local}")
        object.__setattr__(self, "angle", _range("angle", self.angle, -360.0, 360.0))
        object.__setattr__(self, "boost", _range("boost", self.boost, 1.0, 1000.0))
        object.__setattr__(self, "shot", _range("shot", self.shot, 0.0, 1.0))
        object.__setattr__(self, "read", _range("read", self.read, 0.0, 1.0))
        if self.jpeg_quality is not None:
            q = _range("jpeg_quality", self.jpeg_quality, 1, 100)
            if q[0] != int(q[0]) or q[1] != int(q[1]):
                raise ValueError(f"jpeg_quality: expected integers in [1, 100], got {self.jpeg_quality!r}")
            object.__setattr__(self, "jpeg_quality", (int(q[0]), int(q[1])))
        traj = self.trajectory_params()  # validates the trajectory fields (and normalises them)
        for name in ("samples", "length", "anxiety", "centripetal", "big_shake", "gaussian_shake", "exposure"):
            object.__setattr__(self, name, getattr(traj, name))

    def trajectory_params(self) -> TrajectoryParams:
        return TrajectoryParams(
            samples=self.samples,
            length=self.length,
            anxiety=self.anxiety,
            centripetal=self.centripetal,
            big_shake=self.big_shake,
            gaussian_shake=self.gaussian_shake,
            exposure=self.exposure,
        )

    def replace(self, overrides: Mapping[str, Any] | None = None) -> DegradeConfig:
        """A copy with fields overridden; unknown field names raise ``ValueError`` (no silent typos)."""
        if not overrides:
            return self
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(f"overrides: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return dataclasses.replace(self, **dict(overrides))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples as lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DegradeConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"config: unknown field(s) {', '.join(unknown)}")
        conv = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
        # Configurations written before the highlight model was a field used the luminance ramp.
        conv.setdefault("highlight", "ramp")
        return cls(**conv)  # type: ignore[arg-type]


PRESETS: dict[str, DegradeConfig] = {
    # DeblurGAN's recipe (Boracchi–Foi trajectories, 64-px canvas, length 60, anxiety 0.003–0.01,
    # blur of the display values) without its defects: centred kernels, reflected borders, no
    # min–max stretching.
    "deblurgan": DegradeConfig(response="linear"),
    # Blur in linear light with saturated highlights and sensor noise, lengths from slight to strong.
    "realistic": DegradeConfig(
        length=(8.0, 60.0),
        response="srgb",
        boost=(1.0, 4.0),
        shot=(1e-4, 1e-2),
        read=(5e-4, 5e-3),
    ),
    # As "realistic", then a JPEG round trip (quality 60–95).
    "realistic_jpeg": DegradeConfig(
        length=(8.0, 60.0),
        response="srgb",
        boost=(1.0, 4.0),
        shot=(1e-4, 1e-2),
        read=(5e-4, 5e-3),
        jpeg_quality=(60, 95),
    ),
    # Frame averages of video (GoPro-style pairs): as "realistic" without added sensor noise. An
    # average of N frames has less noise than its sharp frame, and blurring a sharp photo averages
    # its own noise down in the same way, so no noise is added to the blurred side.
    "video": DegradeConfig(length=(8.0, 60.0), response="srgb", boost=(1.0, 4.0)),
    # Straight-line motion of 5–40 px at any angle, in linear light (what line-blur tools make).
    "line": DegradeConfig(kernel="line", length=(5.0, 40.0), angle=(0.0, 180.0), response="srgb"),
}


def resolve_config(preset: str | DegradeConfig, overrides: Mapping[str, Any] | None = None) -> DegradeConfig:
    """A preset name or config, with ``overrides`` applied.

    >>> resolve_config("realistic", {"length": 20}).length
    (20.0, 20.0)
    """
    if isinstance(preset, DegradeConfig):
        base = preset
    elif preset in PRESETS:
        base = PRESETS[preset]
    else:
        raise ValueError(f"preset: unknown preset {preset!r}; available: {', '.join(sorted(PRESETS))}")
    return base.replace(overrides)


@functools.lru_cache(maxsize=8)
def _bank(path: str, size: int | None) -> np.ndarray:
    return load_kernel_bank(path, size=size)


def _uniform(rng: np.random.Generator, r: Range) -> float:
    return float(r[0] + (r[1] - r[0]) * rng.random())


def _log_uniform(rng: np.random.Generator, r: Range) -> float:
    u = rng.random()  # always drawn, so later draws do not depend on the range
    if r[0] > 0.0 and r[1] > r[0]:
        return float(math.exp(math.log(r[0]) + (math.log(r[1]) - math.log(r[0])) * u))
    return float(r[0] + (r[1] - r[0]) * u)


@dataclass
class Degradation:
    """One sample's drawn degradation: its ``kernel`` (k, k) float32 and a JSON-ready ``record``."""

    kernel: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)


def sample_degradation(seed: int, config: DegradeConfig) -> Degradation:
    """Draw everything random about one sample from its seed: kernel, boost, noise levels, JPEG quality.

    >>> d = sample_degradation(7, PRESETS["realistic"])
    >>> d.kernel.shape[0] % 2, sorted(d.record)[:3]
    (1, ['angle', 'anxiety', 'big_shake'])
    """
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
    kernel_seed, param_seed, noise_seed = np.random.SeedSequence(int(seed)).generate_state(3, dtype=np.uint64)
    rng = np.random.default_rng(int(param_seed))
    record: dict[str, Any] = {"seed": int(seed), "kernel_source": config.kernel}
    if config.kernel == "trajectory":
        kb = kernels_from_seeds([int(kernel_seed)], config.trajectory_params(), config.kernel_size)
        kernel = kb.kernel(0)
        record.update(kb.records[0])
        record["kernel_seed"] = int(kernel_seed)
    elif config.kernel == "line":
        length = _uniform(rng, config.length)
        angle = _uniform(rng, config.angle)
        kernel = line_kernel(length, angle, size=config.kernel_size)
        record.update({"length": length, "angle": angle})
    else:
        bank = _bank(str(config.bank), config.kernel_size)
        index = int(rng.integers(0, bank.shape[0]))
        kernel = normalize_kernel(bank[index], name=f"{config.bank}[{index}]", size=config.kernel_size)
        record.update({"bank": str(config.bank), "bank_index": index})
    record["kernel_size"] = int(kernel.shape[0])
    record["boost"] = _uniform(rng, config.boost)
    record["shot"] = _log_uniform(rng, config.shot)
    record["read"] = _log_uniform(rng, config.read)
    q = config.jpeg_quality
    jpeg = int(rng.integers(q[0], q[1] + 1)) if q is not None else None
    record["jpeg_quality"] = jpeg
    record["noise_seed"] = int(noise_seed) & ((1 << 63) - 1)
    record["response"] = config.response
    record["highlight"] = config.highlight
    record["highlight_threshold"] = float(config.highlight_threshold)
    record["border"] = config.border
    if config.local > 0:  # drawn last, so the other draws are those of a config without it
        record["local"] = bool(rng.random() < config.local)
        record["local_seed"] = int(rng.integers(0, 2**62))
    return Degradation(kernel=kernel.astype(np.float32), record=record)


def apply_degradation(
    sharp: torch.Tensor, kernels: torch.Tensor | np.ndarray, records: Sequence[Mapping[str, Any]]
) -> torch.Tensor:
    """Apply recorded degradations to a batch of sharp display images.

    Args:
        sharp: (B, 3, H, W) float tensor in [0, 1] (display values), any device.
        kernels: (B, k, k) kernels (zero-padded to a common size), matching ``records``.
        records: one dict per sample from :func:`sample_degradation` (``response``, ``boost``,
            ``highlight_threshold``, ``border``, ``shot``, ``read``, ``noise_seed``, ``jpeg_quality``).

    Returns:
        (B, 3, H, W) blurred images in [0, 1], same device and dtype.
    """
    if sharp.ndim != 4 or sharp.shape[1] != 3:
        raise ValueError(f"sharp: expected shape (B, 3, H, W), got {tuple(sharp.shape)}")
    if len(records) != sharp.shape[0]:
        raise ValueError(f"records: got {len(records)} records for a batch of {sharp.shape[0]}")
    borders = {r["border"] for r in records}
    responses = {r["response"] for r in records}
    if len(borders) != 1 or len(responses) != 1:
        raise ValueError("records: a batch must share one border mode and one response curve")
    border = borders.pop()
    response = responses.pop()
    dtype = sharp.dtype
    x = to_linear(sharp.float(), response)
    x = boost_highlights(x, records)
    blurred = convolve(x, kernels, border=border)
    assert isinstance(blurred, torch.Tensor)
    if any(r.get("local") for r in records):
        masks = torch.stack([
            local_mask(int(r["local_seed"]), x.shape[-2], x.shape[-1], x.device) if r.get("local")
            else torch.ones(x.shape[-2:], device=x.device)
            for r in records
        ])[:, None]
        blurred = masks * blurred + (1.0 - masks) * x
    y = blurred.clamp(0.0, 1.0)
    noisy = []
    for i, r in enumerate(records):
        yi = y[i]
        if r["shot"] > 0 or r["read"] > 0:
            g = torch.Generator(device=y.device)
            g.manual_seed(int(r["noise_seed"]))
            yi = poisson_gaussian(yi, float(r["shot"]), float(r["read"]), g).clamp(0.0, 1.0)
        noisy.append(yi)
    out = from_linear(torch.stack(noisy), response)
    if any(r.get("jpeg_quality") is not None for r in records):
        out = _jpeg_round_trip(out, [r.get("jpeg_quality") for r in records])
    return out.to(dtype)


def boost_highlights(x: torch.Tensor, records: Sequence[Mapping[str, Any]]) -> torch.Tensor:
    """Step 2 of the chain on a linear (B, 3, H, W) batch: raise highlights by each record's ``boost``.

    ``clipped`` records (the default) scale only channels at or above the threshold, so that
    ``boost_highlights(x).clamp(0, 1)`` is ``x`` again up to ``1 - threshold``; ``ramp`` records (and
    records written before the field existed) scale whole pixels by a luminance ramp.

    >>> x = torch.tensor([0.5, 0.99, 1.0]).view(1, 3, 1, 1)
    >>> boost_highlights(x, [{"boost": 4.0, "highlight": "clipped", "highlight_threshold": 0.995}]).flatten()
    tensor([0.5000, 0.9900, 4.0000])
    """
    boosts = [float(r["boost"]) for r in records]
    if all(b <= 1.0 for b in boosts):
        return x
    gain = torch.tensor(boosts, device=x.device, dtype=x.dtype).view(-1, 1, 1, 1) - 1.0
    thr = torch.tensor([float(r["highlight_threshold"]) for r in records], device=x.device, dtype=x.dtype)
    thr = thr.view(-1, 1, 1, 1)
    clipped = torch.tensor(
        [r.get("highlight", "ramp") == "clipped" for r in records], device=x.device
    ).view(-1, 1, 1, 1)
    ramp = ((luminance(x) - thr) / (1.0 - thr)).clamp(0.0, 1.0)
    mask = torch.where(clipped, (x >= thr).to(x.dtype), ramp)
    return x * (1.0 + gain * mask)


def local_mask(seed: int, height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The region a ``local`` blur covers: a soft-edged random ellipse, (H, W) in [0, 1].

    Centre anywhere in the image, semi-axes 15–50 % of the image's sides, any orientation, an edge
    that fades over about 4 % of the smaller side. A pure function of ``seed`` and the size.

    >>> m = local_mask(3, 40, 60)
    >>> m.shape, 0.0 <= float(m.min()) < float(m.max()) <= 1.0
    (torch.Size([40, 60]), True)
    """
    rng = np.random.default_rng(int(seed))
    cy, cx = rng.random() * height, rng.random() * width
    ay, ax = (0.15 + 0.35 * rng.random()) * height, (0.15 + 0.35 * rng.random()) * width
    theta = math.pi * rng.random()
    soft = max(1.0, 0.04 * min(height, width))
    yy = torch.arange(height, device=device, dtype=torch.float32).view(-1, 1) - cy
    xx = torch.arange(width, device=device, dtype=torch.float32).view(1, -1) - cx
    u = xx * math.cos(theta) + yy * math.sin(theta)
    v = -xx * math.sin(theta) + yy * math.cos(theta)
    r = torch.sqrt((u / ax) ** 2 + (v / ay) ** 2)  # 1 on the ellipse
    return ((1.0 - r) * min(ax, ay) / soft + 0.5).clamp(0.0, 1.0)


def _jpeg_round_trip(x: torch.Tensor, qualities: Sequence[int | None]) -> torch.Tensor:
    import cv2

    from blurkit.io import to_uint

    outs = []
    for img, q in zip(x, qualities, strict=True):
        if q is None:
            outs.append(img)
            continue
        arr = to_uint(img.permute(1, 2, 0).cpu().numpy())[:, :, ::-1]
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(arr), [cv2.IMWRITE_JPEG_QUALITY, int(q)])
        if not ok:
            raise ValueError(f"jpeg_quality: JPEG encoding failed at quality {q}")
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if decoded is None:
            raise ValueError(f"jpeg_quality: JPEG decoding failed at quality {q}")
        dec = decoded[:, :, ::-1].astype(np.float32) / 255.0
        outs.append(torch.from_numpy(np.ascontiguousarray(dec)).permute(2, 0, 1).to(img.device))
    return torch.stack(outs)


def degrade_batch(
    sharp: torch.Tensor,
    seeds: Sequence[int],
    preset: str | DegradeConfig = "realistic",
    overrides: Mapping[str, Any] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, Any]]]:
    """Blur a batch of sharp images, one seed per image (sampling + applying in one call).

    Args:
        sharp: (B, 3, H, W) float32 display values in [0, 1] on any device.
        seeds: one non-negative integer seed per image.
        preset: a name from :data:`PRESETS` or a :class:`DegradeConfig`.
        overrides: config fields to change, e.g. ``{"length": (20, 20)}``.

    Returns:
        ``(blurred, kernels, records)``: blurred (B, 3, H, W) in [0, 1] on the input's device,
        kernels (B, k, k) float32 (zero-padded to the batch's largest), and one record per image.

    >>> x = torch.rand(2, 3, 32, 32)
    >>> b, k, r = degrade_batch(x, [1, 2], "deblurgan", {"length": 8})
    >>> b.shape, k.shape[0], r[0]["length"]
    (torch.Size([2, 3, 32, 32]), 2, 8.0)
    """
    config = resolve_config(preset, overrides)
    if sharp.ndim != 4:
        raise ValueError(f"sharp: expected shape (B, 3, H, W), got {tuple(sharp.shape)}")
    if len(seeds) != sharp.shape[0]:
        raise ValueError(f"seeds: got {len(seeds)} seeds for a batch of {sharp.shape[0]} images")
    samples = [sample_degradation(int(s), config) for s in seeds]
    kernels = torch.from_numpy(stack_kernels([d.kernel for d in samples])).to(sharp.device)
    records = [d.record for d in samples]
    return apply_degradation(sharp, kernels, records), kernels, records
