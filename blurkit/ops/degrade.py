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
How each step is computed is fixed by the record's chain version (:mod:`blurkit.ops.chain`): records
and configs saved by older versions keep regenerating their bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from blurkit.kernels.bank import load_kernel_bank
from blurkit.kernels.line import line_kernel
from blurkit.kernels.params import Range, ShakeFields, as_range
from blurkit.kernels.psf import check_size, normalize_kernel, stack_kernels
from blurkit.kernels.trajectory import TrajectoryParams, kernels_from_seeds
from blurkit.ops.borders import BORDERS
from blurkit.ops.color import parse_response

if TYPE_CHECKING:
    import torch

KERNEL_SOURCES = ("trajectory", "line", "bank")
HIGHLIGHT_MODELS = ("clipped", "ramp")
#: Chain versions this blurkit applies (:mod:`blurkit.ops.chain`); new records get :data:`CHAIN_VERSION`.
CHAINS = (1, 2)
CHAIN_VERSION = 2


@dataclass(frozen=True)
class DegradeConfig(ShakeFields):
    """Every knob of the chain. Ranges are ``(low, high)``; a single number fixes the value.

    Kernel: ``kernel`` picks the source. ``trajectory`` uses the camera-shake fields (``samples``,
    ``length``, ``anxiety``, ``centripetal``, ``big_shake``, ``gaussian_shake``, ``exposure``; see
    :class:`blurkit.kernels.params.ShakeFields`); ``line`` uses ``length`` and ``angle``; ``bank``
    draws uniformly from the kernels of the file ``bank``. ``kernel_size`` imposes an odd size
    (``None`` fits each kernel).

    Noise levels ``shot`` and ``read`` are drawn log-uniformly when both ends are positive.

    Highlights: ``highlight`` (``clipped`` or ``ramp``) and ``highlight_threshold`` choose which
    pixels ``boost`` raises (module docstring). ``local`` is the probability that a sample's blur
    covers only a random region (:func:`local_mask`); the rest of the image stays sharp.

    ``chain`` is the version of the chain's arithmetic (:mod:`blurkit.ops.chain`); configs saved
    without it are chain 1.
    """

    kernel: str = "trajectory"
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
    chain: int = CHAIN_VERSION

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
        if isinstance(self.chain, bool) or self.chain not in CHAINS:
            raise ValueError(f"chain: expected one of {CHAINS}, got {self.chain!r}")
        object.__setattr__(self, "chain", int(self.chain))
        object.__setattr__(self, "angle", as_range("angle", self.angle, -360.0, 360.0))
        object.__setattr__(self, "boost", as_range("boost", self.boost, 1.0, 1000.0))
        object.__setattr__(self, "shot", as_range("shot", self.shot, 0.0, 1.0))
        object.__setattr__(self, "read", as_range("read", self.read, 0.0, 1.0))
        if self.jpeg_quality is not None:
            q = as_range("jpeg_quality", self.jpeg_quality, 1, 100)
            if q[0] != int(q[0]) or q[1] != int(q[1]):
                raise ValueError(f"jpeg_quality: expected integers in [1, 100], got {self.jpeg_quality!r}")
            object.__setattr__(self, "jpeg_quality", (int(q[0]), int(q[1])))
        self._check_shake()

    def trajectory_params(self) -> TrajectoryParams:
        return TrajectoryParams(**self.shake_dict())

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
        """Plain JSON-ready dict (tuples as lists). ``chain`` is left out for chain 1, so a chain-1
        config reads exactly as older versions saved it."""
        d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}
        if d["chain"] == 1:
            del d["chain"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DegradeConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"config: unknown field(s) {', '.join(unknown)}")
        conv = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
        # Configurations written before the highlight model (or the chain version) was a field used
        # the luminance ramp (and chain 1).
        conv.setdefault("highlight", "ramp")
        conv.setdefault("chain", 1)
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
    if config.chain != 1:  # records of chain 1 read as older versions wrote them
        record["chain"] = config.chain
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
            ``highlight_threshold``, ``border``, ``shot``, ``read``, ``noise_seed``, ``jpeg_quality``,
            ``chain``); a batch shares one border, response and chain.

    Returns:
        (B, 3, H, W) blurred images in [0, 1], same device and dtype.
    """
    if sharp.ndim != 4 or sharp.shape[1] != 3:
        raise ValueError(f"sharp: expected shape (B, 3, H, W), got {tuple(sharp.shape)}")
    if len(records) != sharp.shape[0]:
        raise ValueError(f"records: got {len(records)} records for a batch of {sharp.shape[0]}")
    shared = {}
    for name, default in (("border", None), ("response", None), ("chain", 1)):
        values = {r.get(name, default) for r in records}
        if len(values) != 1:
            raise ValueError(f"records: a batch must share one {name} (got {sorted(map(str, values))})")
        shared[name] = values.pop()
    if shared["chain"] not in CHAINS:
        raise ValueError(f"records: unknown chain version {shared['chain']!r} (this blurkit applies {CHAINS})")
    from blurkit.ops.chain import apply_chain1, apply_chain2

    apply = apply_chain1 if shared["chain"] == 1 else apply_chain2
    out = apply(sharp.float(), kernels, records, str(shared["border"]), str(shared["response"]))
    return out.to(sharp.dtype)


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

    >>> import torch
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
    import torch

    samples = [sample_degradation(int(s), config) for s in seeds]
    kernels = torch.from_numpy(stack_kernels([d.kernel for d in samples])).to(sharp.device)
    records = [d.record for d in samples]
    return apply_degradation(sharp, kernels, records), kernels, records


def __getattr__(name: str) -> Any:
    if name in ("boost_highlights", "local_mask"):  # torch functions, imported when asked for
        from blurkit.ops import highlights

        return getattr(highlights, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CHAINS",
    "CHAIN_VERSION",
    "HIGHLIGHT_MODELS",
    "KERNEL_SOURCES",
    "PRESETS",
    "Degradation",
    "DegradeConfig",
    "apply_degradation",
    "degrade_batch",
    "resolve_config",
    "sample_degradation",
]
