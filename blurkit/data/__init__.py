"""PyTorch Datasets of blurry/sharp pairs: sharp photos blurred on the fly, or pairs made ahead of time.

- :class:`OnTheFlyPairs` — a folder of sharp images. An item is a sharp crop with ``margin`` pixels
  of context on each side and the item's seed; :meth:`OnTheFlyPairs.blur` blurs a collated batch on
  the training device (GPU or CPU) with :func:`blurkit.synth.blur_batch`, one kernel per seed, and
  cuts the margin off, so the blur has real image context at the crop border.
- :class:`PairFolder` — pairs on disk: what ``blurkit make`` writes (``manifest.csv``), any
  ``blur/`` + ``sharp/`` layout with matching relative paths, or GoPro's
  ``<root>/<scene>/{blur,sharp}`` (``layout="gopro"``). Paired crops share position and flips.

Seeding: item *i* of epoch *e* draws its crop, flips and kernel from a seed that is a pure function
of ``(seed, e, key)``, where ``key`` is the image's path relative to its folder
(:func:`item_seed`). A run is therefore the same whatever the number of DataLoader workers and the
order of the items, and an item regenerates alone. Call ``set_epoch(e)`` before each epoch (as with
``DistributedSampler``) to get new crops and kernels; with ``persistent_workers=True`` the workers
keep the epoch they started with, so pass explicit ``(index, seed)`` pairs to :meth:`load` instead.

The building blocks (:func:`find_pairs`, :func:`random_crop_flip`, :func:`load_sharp_crop`,
:func:`load_pair_crop`, :func:`blur_crops`) are plain functions; ``models.data`` mixes several sources
with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from blurkit._rng import key_words
from blurkit.data.crops import DecodedImages, load_pair_crop, load_sharp_crop, random_crop_flip
from blurkit.data.finding import PAIR_LAYOUTS, find_pairs
from blurkit.io import list_images
from blurkit.ops.degrade import DegradeConfig, resolve_config
from blurkit.tensors import to_tensor


def item_seed(seed: int, epoch: int, key: str) -> int:
    """The 63-bit seed of item ``key`` in ``epoch`` (a pure function of its arguments).

    >>> item_seed(0, 0, "a.png") == item_seed(0, 0, "a.png"), item_seed(0, 0, "a.png") == item_seed(0, 1, "a.png")
    (True, False)
    """
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
    if isinstance(epoch, bool) or int(epoch) != epoch or epoch < 0:
        raise ValueError(f"epoch: must be a non-negative integer, got {epoch!r}")
    state = np.random.SeedSequence(
        entropy=int(seed), spawn_key=(2, int(epoch), *key_words(key))
    ).generate_state(2)
    return int((int(state[0]) | (int(state[1]) << 32)) & ((1 << 63) - 1))


def blur_crops(
    sharp: torch.Tensor,
    seeds: Sequence[int],
    margin: int,
    preset: str | DegradeConfig = "realistic",
    overrides: Mapping[str, Any] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Blur sharp crops on their device (one kernel per seed), then cut ``margin`` off both.

    Args:
        sharp: (B, 3, S, S) float tensor in [0, 1] on any device, ``S = crop + 2 * margin``.
        seeds: one seed per crop.
        margin: context pixels on each side, removed after blurring.
        preset, overrides: the degradation (see :func:`blurkit.synth.blur_batch`).

    Returns:
        ``(blurred, sharp)``, each (B, 3, S - 2·margin, S - 2·margin) on ``sharp``'s device.

    >>> b, s = blur_crops(torch.rand(2, 3, 24, 24), [1, 2], margin=4, preset="deblurgan", overrides={"length": 5})
    >>> b.shape, s.shape
    (torch.Size([2, 3, 16, 16]), torch.Size([2, 3, 16, 16]))
    """
    from blurkit.synth import blur_batch  # imported at call time (tests stand a double in for it)

    if margin < 0:
        raise ValueError(f"margin: must be >= 0, got {margin}")
    h, w = sharp.shape[-2:]
    if h <= 2 * margin or w <= 2 * margin:
        raise ValueError(f"margin: {margin} leaves nothing of a {h}×{w} crop")
    blurred, _, _ = blur_batch(sharp, list(seeds), preset=preset, overrides=overrides)
    m = margin
    return blurred[..., m : h - m, m : w - m], sharp[..., m : h - m, m : w - m]


def _check_crop(crop: int | None, name: str = "crop", allow_none: bool = False) -> None:
    if crop is None and allow_none:
        return
    if isinstance(crop, bool) or not isinstance(crop, (int, np.integer)) or crop < 1:
        raise ValueError(f"{name}: must be a positive integer, got {crop!r}")


def _keys(paths: Sequence[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() if p.is_relative_to(root) else p.as_posix() for p in paths]


# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class OnTheFlyConfig:
    """Settings of :class:`OnTheFlyPairs`.

    Attributes:
        preset: degradation preset name or :class:`blurkit.ops.degrade.DegradeConfig`.
        overrides: preset fields to change, e.g. ``{"length": (10, 40)}``.
        crop: side of the returned pairs.
        margin: context pixels kept on each side until the blur is applied.
        flips: random horizontal and vertical flips.
        seed: base seed of all draws.
    """

    preset: str | DegradeConfig = "realistic"
    overrides: Mapping[str, Any] | None = None
    crop: int = 256
    margin: int = 32
    flips: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        _check_crop(self.crop)
        if isinstance(self.margin, bool) or not isinstance(self.margin, (int, np.integer)) or self.margin < 0:
            raise ValueError(f"margin: must be a non-negative integer, got {self.margin!r}")
        item_seed(self.seed, 0, "")  # validates the seed
        resolve_config(self.preset, self.overrides)  # unknown presets and fields fail here


class OnTheFlyPairs(Dataset[dict[str, Any]]):
    """Sharp photos, blurred on the training device with a new kernel for every item and epoch.

    Args:
        sharp_dir: a folder of sharp images (searched recursively), or a list of image paths.
        preset, overrides, crop, margin, flips, seed: see :class:`OnTheFlyConfig`.

    An item is a dict: ``sharp`` (3, crop + 2·margin, crop + 2·margin) float32 in [0, 1], ``seed``
    (int: the crop's, flips' and kernel's), ``key`` (the image's path relative to ``sharp_dir``).
    Collate them with the default collate, then :meth:`blur` the batch where the model trains.

    Example:
        >>> import tempfile
        >>> from torch.utils.data import DataLoader
        >>> from blurkit.io import write_image
        >>> folder = Path(tempfile.mkdtemp())
        >>> for name in ("a.png", "b.png", "c.png"):
        ...     write_image(folder / name, np.random.default_rng(0).random((40, 48, 3)))
        >>> ds = OnTheFlyPairs(folder, preset="deblurgan", crop=16, margin=8, seed=0)
        >>> len(ds), ds[0]["sharp"].shape, ds[0]["key"]
        (3, torch.Size([3, 32, 32]), 'a.png')
        >>> batch = next(iter(DataLoader(ds, batch_size=3)))
        >>> blurred, sharp = ds.blur(batch, device="cpu")   # "cuda" to blur on the GPU
        >>> blurred.shape, sharp.shape
        (torch.Size([3, 3, 16, 16]), torch.Size([3, 3, 16, 16]))
    """

    def __init__(
        self,
        sharp_dir: str | Path | Sequence[str | Path],
        preset: str | DegradeConfig = "realistic",
        crop: int = 256,
        margin: int = 32,
        seed: int = 0,
        flips: bool = True,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = OnTheFlyConfig(
            preset=preset, overrides=dict(overrides) if overrides else None, crop=crop, margin=margin,
            flips=flips, seed=seed,
        )
        if isinstance(sharp_dir, (str, Path)):
            root = Path(sharp_dir)
            if not root.is_dir():
                raise FileNotFoundError(f"{root}: no such folder")
            self.paths = list_images(root)
            self.keys = _keys(self.paths, root)
        else:
            self.paths = [Path(p) for p in sharp_dir]
            missing = [p for p in self.paths if not p.is_file()]
            if missing:
                raise FileNotFoundError(f"{missing[0]}: no such image")
            self.keys = [p.as_posix() for p in self.paths]
        if not self.paths:
            raise ValueError(f"{sharp_dir}: no images found")
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        """Draw the crops and kernels of ``epoch`` from now on."""
        item_seed(self.config.seed, epoch, "")  # validates
        self.epoch = int(epoch)

    def item_seed(self, index: int) -> int:
        """The seed of item ``index`` in the current epoch."""
        return item_seed(self.config.seed, self.epoch, self.keys[index])

    def load(self, index: int, seed: int) -> dict[str, Any]:
        """Item ``index`` drawn from an explicit ``seed`` (what ``__getitem__`` does with :meth:`item_seed`)."""
        c = self.config
        crop = load_sharp_crop(self.paths[index], c.crop + 2 * c.margin, seed, c.flips)
        return {"sharp": to_tensor(crop), "seed": int(seed), "key": self.keys[index]}

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index: {index} out of range for {len(self)} items")
        index = int(index) % len(self)
        return self.load(index, self.item_seed(index))

    def blur(
        self, batch: Mapping[str, Any], device: str | torch.device | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Blur a collated batch on ``device`` (default: where ``batch["sharp"]`` is).

        Returns:
            ``(blurred, sharp)``: (B, 3, crop, crop) float32 on ``device``.
        """
        sharp = batch["sharp"]
        if device is not None:
            sharp = sharp.to(device, non_blocking=True)
        seeds = batch["seed"]
        seeds = seeds.tolist() if isinstance(seeds, torch.Tensor) else [int(s) for s in seeds]
        c = self.config
        blurred, cut = blur_crops(sharp.float(), seeds, c.margin, c.preset, c.overrides)
        return blurred.float(), cut.float()


@dataclass(frozen=True)
class PairFolderConfig:
    """Settings of :class:`PairFolder`.

    Attributes:
        crop: side of the returned crops; ``None`` returns whole images (batch them one at a time
            or with a collate that pads).
        flips: random horizontal and vertical flips (the same for both images).
        seed: base seed of the crops and flips.
        layout: ``pairs`` (``manifest.csv``, else ``blur/`` + ``sharp/``) or ``gopro``
            (``<root>/<scene>/{blur,sharp}`` too).
    """

    crop: int | None = None
    flips: bool = False
    seed: int = 0
    layout: str = "pairs"

    def __post_init__(self) -> None:
        _check_crop(self.crop, allow_none=True)
        item_seed(self.seed, 0, "")
        if self.layout not in PAIR_LAYOUTS:
            raise ValueError(f"layout: expected one of {', '.join(PAIR_LAYOUTS)}, got {self.layout!r}")


class PairFolder(Dataset[dict[str, Any]]):
    """Blurry/sharp pairs from disk: ``blurkit make`` output or any ``blur/`` + ``sharp/`` layout.

    Args:
        pairs_dir: the folder.
        crop, flips, seed, layout: see :class:`PairFolderConfig`.
        cache_mb: megabytes of decoded images to keep in memory (per process; 0: decode every item
            each time). For a few large frames read many times, e.g. real video pairs cropped small;
            the items are the same either way.

    An item is a dict: ``blur`` and ``sharp`` (3, H, W) float32 in [0, 1] (``crop``×``crop`` when
    ``crop`` is set; smaller images are padded by reflection), ``seed`` (the crop's and flips'),
    ``key`` (the sharp image's path relative to its folder).

    Example:
        >>> import tempfile
        >>> from blurkit.io import write_image
        >>> root = Path(tempfile.mkdtemp())
        >>> for name in ("x.png", "y.png"):
        ...     img = np.random.default_rng(1).random((20, 30, 3))
        ...     write_image(root / "sharp" / name, img)
        ...     write_image(root / "blur" / name, img * 0.5)
        >>> ds = PairFolder(root, crop=16, flips=True, seed=0)
        >>> item = ds[1]
        >>> len(ds), item["key"], item["blur"].shape, item["sharp"].shape
        (2, 'y.png', torch.Size([3, 16, 16]), torch.Size([3, 16, 16]))
        >>> bool(torch.equal(ds[1]["blur"], item["blur"]))   # the same item draws the same crop
        True
    """

    def __init__(
        self,
        pairs_dir: str | Path,
        crop: int | None = None,
        flips: bool = False,
        seed: int = 0,
        layout: str = "pairs",
        cache_mb: float = 0.0,
    ) -> None:
        self.config = PairFolderConfig(crop=crop, flips=flips, seed=seed, layout=layout)
        self.images = DecodedImages(cache_mb)
        self.root = Path(pairs_dir)
        self.blur_paths, self.sharp_paths = find_pairs(self.root, layout)
        self.keys = _sharp_keys(self.root, self.sharp_paths)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.sharp_paths)

    def set_epoch(self, epoch: int) -> None:
        """Draw the crops of ``epoch`` from now on."""
        item_seed(self.config.seed, epoch, "")
        self.epoch = int(epoch)

    def item_seed(self, index: int) -> int:
        """The seed of item ``index`` in the current epoch."""
        return item_seed(self.config.seed, self.epoch, self.keys[index])

    def load(self, index: int, seed: int) -> dict[str, Any]:
        """Item ``index`` drawn from an explicit ``seed``."""
        c = self.config
        blur, sharp = load_pair_crop(
            self.blur_paths[index], self.sharp_paths[index], c.crop, seed, c.flips, self.images
        )
        return {"blur": to_tensor(blur), "sharp": to_tensor(sharp), "seed": int(seed), "key": self.keys[index]}

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index: {index} out of range for {len(self)} items")
        index = int(index) % len(self)
        return self.load(index, self.item_seed(index))


def _sharp_keys(root: Path, sharp: Sequence[Path]) -> list[str]:
    keys = []
    for p in sharp:
        rel = p.relative_to(root) if p.is_relative_to(root) else p
        parts = rel.parts
        # drop the "sharp" folder level: <scene>/sharp/<name> -> <scene>/<name>, sharp/<name> -> <name>
        if "sharp" in parts:
            i = len(parts) - 1 - parts[::-1].index("sharp")
            parts = parts[:i] + parts[i + 1 :]
        keys.append(Path(*parts).as_posix())
    return keys


#: An (H, W, C) array as a contiguous (C, H, W) tensor: :func:`blurkit.tensors.to_tensor` (``models.data`` uses it).
chw = to_tensor

__all__ = [
    "PAIR_LAYOUTS",
    "DecodedImages",
    "OnTheFlyConfig",
    "OnTheFlyPairs",
    "PairFolder",
    "PairFolderConfig",
    "blur_crops",
    "chw",
    "find_pairs",
    "item_seed",
    "load_pair_crop",
    "load_sharp_crop",
    "random_crop_flip",
]
