"""Training data for deblurring models: a mix of synthetic and real blurry/sharp pairs.

Sources (one :class:`Source` each):

* ``pairs`` — pairs made ahead of time by ``blurkit make``: a folder with ``manifest.csv`` (columns
  ``blur`` and ``sharp``, paths relative to the folder), or ``blur/`` and ``sharp/`` subfolders with
  matching relative paths. Synthetic.
* ``on_the_fly`` — sharp images blurred during training, on the training device, by
  ``blurkit.synth.blur_batch`` (a new kernel for every draw). The dataset yields a sharp crop with a
  ``margin`` of context on each side plus the draw's seed; :func:`materialize_batch` blurs the batch
  and cuts the margin off, so crops carry no artificial border. Synthetic.
* ``gopro`` — real pairs in the GoPro layout ``<root>/<scene>/{blur,sharp}/*.png`` (or
  ``<root>/{blur,sharp}/...``, what ``blurkit average`` writes). Real.

:class:`MixedSampler` draws ``(source, item, seed)`` triples so that synthetic and real draws occur at
``synthetic_to_real`` : 1 (default 2 : 1); within a group, sources are drawn by their ``weight`` and
items are visited in a fresh random order each epoch. Every draw's seed derives from
``(base seed, epoch, position)`` with ``numpy.random.SeedSequence``, so crops, flips and blur kernels
do not depend on the number of workers, and a run resumed at step *s* sees the same data as an
uninterrupted one (:meth:`MixedSampler.set_position`). With several processes (``torchrun``) each
rank takes every ``world_size``-th draw, like ``torch.utils.data.DistributedSampler``.

Finding pairs, crops and the on-device blur are :mod:`blurkit.data`'s (the same functions behind
its public ``OnTheFlyPairs`` and ``PairFolder`` datasets); their names are re-exported here.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from blurkit.data import (
    DecodedImages,
    blur_crops,
    find_pairs,
    load_pair_crop,
    load_sharp_crop,
    random_crop_flip,
)
from blurkit.data import chw as _chw
from blurkit.io import list_images

__all__ = [
    "SOURCE_KINDS",
    "SYNTHETIC_KINDS",
    "MixedBatch",
    "MixedPairs",
    "MixedSampler",
    "Source",
    "SourceConfig",
    "collate_mixed",
    "draw_seed",
    "find_pairs",
    "materialize_batch",
    "random_crop_flip",
    "resolve_source",
    "seed_worker",
    "source_probabilities",
]

SOURCE_KINDS = ("pairs", "on_the_fly", "gopro")
SYNTHETIC_KINDS = ("pairs", "on_the_fly")


@dataclass(frozen=True)
class SourceConfig:
    """One training source.

    Attributes:
        kind: ``pairs``, ``on_the_fly`` or ``gopro`` (see the module docstring).
        root: its folder.
        weight: relative draw weight among the sources of its group (synthetic or real).
    """

    kind: str
    root: str
    weight: float = 1.0
    scale: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"source kind: {self.kind!r} is not one of {', '.join(SOURCE_KINDS)}")
        if not self.weight > 0:
            raise ValueError(f"source weight: must be > 0, got {self.weight} for {self.root}")
        if self.scale is not None:
            lo, hi = (float(v) for v in self.scale)
            if not 0 < lo <= hi:
                raise ValueError(f"source scale: need 0 < lo <= hi, got {list(self.scale)} for {self.root}")
            if self.kind != "on_the_fly":
                raise ValueError(f"source scale: only on_the_fly sources are zoomed, not {self.kind!r} ({self.root})")
            object.__setattr__(self, "scale", (lo, hi))

    @property
    def synthetic(self) -> bool:
        return self.kind in SYNTHETIC_KINDS


@dataclass(frozen=True)
class Source:
    """A resolved source: its config and its items (pairs of paths, or sharp paths with ``blur=None``)."""

    config: SourceConfig
    blur: tuple[Path | None, ...]
    sharp: tuple[Path, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.sharp)


def resolve_source(config: SourceConfig, data_root: str | Path | None = None) -> Source:
    """List a source's files; a relative ``root`` is taken relative to ``data_root`` when given."""
    root = Path(config.root)
    if data_root is not None and not root.is_absolute():
        root = Path(data_root) / root
    if config.kind == "on_the_fly":
        sharp = list_images(root)
        if not sharp:
            raise ValueError(f"{root}: no images for the on_the_fly source")
        return Source(config, tuple([None] * len(sharp)), tuple(sharp))
    blur, sharp_pairs = find_pairs(root, config.kind)
    return Source(config, tuple(blur), tuple(sharp_pairs))


def draw_seed(base_seed: int, epoch: int, position: int) -> int:
    """The 63-bit seed of draw ``position`` of ``epoch`` (a pure function of its arguments)."""
    state = np.random.SeedSequence(
        entropy=int(base_seed), spawn_key=(1, int(epoch), int(position))
    ).generate_state(2)
    return int((int(state[0]) | (int(state[1]) << 32)) & ((1 << 63) - 1))


def source_probabilities(sources: Sequence[SourceConfig], synthetic_to_real: float) -> np.ndarray:
    """Draw probability of each source: groups at ``synthetic_to_real`` : 1, by weight within a group.

    >>> cfg = [SourceConfig("on_the_fly", "a"), SourceConfig("pairs", "b"), SourceConfig("gopro", "c")]
    >>> source_probabilities(cfg, 2.0).round(4).tolist()
    [0.3333, 0.3333, 0.3333]
    """
    if not sources:
        raise ValueError("sources: at least one training source is needed")
    if not synthetic_to_real > 0:
        raise ValueError(f"synthetic_to_real: must be > 0, got {synthetic_to_real}")
    syn = np.array([s.synthetic for s in sources])
    w = np.array([s.weight for s in sources], dtype=np.float64)
    group_share = {
        True: synthetic_to_real / (synthetic_to_real + 1.0),
        False: 1.0 / (synthetic_to_real + 1.0),
    }
    if syn.all() or not syn.any():
        group_share = {True: 1.0, False: 1.0}
    p = np.array([group_share[bool(s)] * wi / w[syn == s].sum() for s, wi in zip(syn, w, strict=True)])
    return p / p.sum()


class MixedSampler(Sampler[tuple[int, int, int]]):
    """Draws ``(source index, item index, seed)`` for one epoch (see the module docstring).

    Args:
        sizes: number of items of each source.
        probabilities: draw probability of each source (:func:`source_probabilities`).
        epoch_size: draws per epoch over all ranks.
        seed: base seed.
        rank, world_size: this process's share of the draws.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        probabilities: Sequence[float],
        epoch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if len(sizes) != len(probabilities) or not sizes:
            raise ValueError(
                f"sizes/probabilities: need one probability per source, got {len(sizes)} and {len(probabilities)}"
            )
        if min(sizes) < 1:
            raise ValueError(f"sizes: every source needs at least one item, got {list(sizes)}")
        if epoch_size < world_size:
            raise ValueError(f"epoch_size: must be >= world_size ({world_size}), got {epoch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank: must be in [0, {world_size}), got {rank}")
        self.sizes = [int(s) for s in sizes]
        self.probabilities = np.asarray(probabilities, dtype=np.float64)
        self.epoch_size = int(epoch_size)
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose draws are produced next (from its beginning)."""
        self.epoch = int(epoch)
        self.start = 0

    def set_position(self, epoch: int, start: int) -> None:
        """Resume inside ``epoch``: skip this rank's first ``start`` draws."""
        self.epoch = int(epoch)
        self.start = int(start)

    def __len__(self) -> int:
        return self.epoch_size // self.world_size - self.start

    def draws(self, epoch: int) -> list[tuple[int, int, int]]:
        """All draws of ``epoch`` over all ranks, in order."""
        rng = np.random.default_rng(np.random.SeedSequence(entropy=self.seed, spawn_key=(0, int(epoch))))
        src = rng.choice(len(self.sizes), size=self.epoch_size, p=self.probabilities)
        orders = [rng.permutation(n) for n in self.sizes]
        counters = [0] * len(self.sizes)
        out = []
        for pos, s in enumerate(src.tolist()):
            item = int(orders[s][counters[s] % self.sizes[s]])
            counters[s] += 1
            out.append((s, item, draw_seed(self.seed, epoch, pos)))
        return out

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        per_rank = self.epoch_size // self.world_size
        mine = self.draws(self.epoch)[self.rank : per_rank * self.world_size : self.world_size]
        return iter(mine[self.start :])


class MixedPairs(Dataset[dict[str, Any]]):
    """Map-style dataset indexed by ``(source, item, seed)`` draws of a :class:`MixedSampler`.

    An item is a dict: ``synthetic_on_the_fly`` (bool), ``sharp`` (3, S, S) float32 in [0, 1],
    ``blur`` (3, S, S) or None, ``seed`` (int), ``source`` (int). For on-the-fly sources ``S`` is
    ``crop + 2 * margin`` and ``blur`` is None. ``cache_mb`` > 0 keeps that many megabytes of decoded
    files in memory (:class:`blurkit.data.DecodedImages`, per process); the crops do not change.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        crop: int = 256,
        margin: int = 32,
        flips: bool = True,
        cache_mb: float = 0.0,
    ) -> None:
        if crop < 4 or margin < 0:
            raise ValueError(f"crop/margin: need crop >= 4 and margin >= 0, got {crop}, {margin}")
        self.sources = list(sources)
        self.crop = crop
        self.margin = margin
        self.flips = flips
        self.images = DecodedImages(cache_mb)

    def __len__(self) -> int:
        return sum(len(s) for s in self.sources)

    def __getitem__(self, index: tuple[int, int, int]) -> dict[str, Any]:  # type: ignore[override]
        src_idx, item, seed = index
        source = self.sources[src_idx]
        blur_path = source.blur[item]
        if blur_path is None:
            sharp = load_sharp_crop(
                source.sharp[item], self.crop + 2 * self.margin, seed, self.flips, source.config.scale,
                self.images,
            )
            return {
                "synthetic_on_the_fly": True,
                "sharp": _chw(sharp),
                "blur": None,
                "seed": seed,
                "source": src_idx,
            }
        blur, sharp = load_pair_crop(blur_path, source.sharp[item], self.crop, seed, self.flips, self.images)
        return {
            "synthetic_on_the_fly": False,
            "sharp": _chw(sharp),
            "blur": _chw(blur),
            "seed": seed,
            "source": src_idx,
        }


@dataclass
class MixedBatch:
    """A collated batch: ready pairs, plus sharp crops (with margin) still to blur, and their seeds."""

    pair_blur: torch.Tensor
    pair_sharp: torch.Tensor
    fly_sharp: torch.Tensor
    fly_seeds: list[int]
    sources: torch.Tensor

    def pin_memory(self) -> MixedBatch:
        """Page-locked copies (called by ``DataLoader(pin_memory=True)``)."""
        return MixedBatch(
            self.pair_blur.pin_memory(),
            self.pair_sharp.pin_memory(),
            self.fly_sharp.pin_memory(),
            self.fly_seeds,
            self.sources,
        )


def collate_mixed(items: Sequence[Mapping[str, Any]]) -> MixedBatch:
    """Collate :class:`MixedPairs` items (pairs and on-the-fly crops have different sizes)."""
    pairs = [it for it in items if not it["synthetic_on_the_fly"]]
    fly = [it for it in items if it["synthetic_on_the_fly"]]
    empty = torch.zeros(0, 3, 1, 1)
    return MixedBatch(
        pair_blur=torch.stack([it["blur"] for it in pairs]) if pairs else empty,
        pair_sharp=torch.stack([it["sharp"] for it in pairs]) if pairs else empty,
        fly_sharp=torch.stack([it["sharp"] for it in fly]) if fly else empty,
        fly_seeds=[int(it["seed"]) for it in fly],
        sources=torch.tensor([int(it["source"]) for it in pairs] + [int(it["source"]) for it in fly]),
    )


def materialize_batch(
    batch: MixedBatch,
    device: torch.device | str,
    margin: int,
    preset: str = "realistic",
    overrides: Mapping[str, Any] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Blurred and sharp (B, 3, S, S) tensors on ``device``, blurring on-the-fly crops there.

    The on-the-fly crops are blurred with ``blurkit.synth.blur_batch`` (one kernel per seed) on the
    device, then the ``margin`` is cut off both the blurred and the sharp crop
    (:func:`blurkit.data.blur_crops`, the machinery of :class:`blurkit.data.OnTheFlyPairs`).
    """
    blurs = [batch.pair_blur.to(device, non_blocking=True)] if batch.pair_blur.shape[0] else []
    sharps = [batch.pair_sharp.to(device, non_blocking=True)] if batch.pair_sharp.shape[0] else []
    if batch.fly_sharp.shape[0]:
        sharp = batch.fly_sharp.to(device, non_blocking=True)
        blurred, cut = blur_crops(sharp, batch.fly_seeds, margin, preset=preset, overrides=overrides)
        blurs.append(blurred)
        sharps.append(cut)
    if not sharps:
        raise ValueError("batch: empty")
    return torch.cat(blurs).float(), torch.cat(sharps).float()


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed Python's and NumPy's global RNGs in a worker from torch's worker seed.

    blurkit's own draws never use them (items are seeded by their draw), but third-party code might.
    """
    s = torch.initial_seed() % 2**32
    random.seed(s)
    np.random.seed(s)  # noqa: NPY002 - the legacy global state, only for third-party code in workers
