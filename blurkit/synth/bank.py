"""Kernel banks: export sampled kernels to one ``.npz`` file that ``kernel="bank"`` draws from.

The file holds ``kernels`` (N, k, k) float32, each centred and zero-padded to the largest size;
``sizes`` (N,) each kernel's own size; ``seeds`` (N,) uint64, the seed each kernel was sampled from
(``blurkit._rng.item_seed(seed, f"kernel#{i}")``, as ``blurkit kernel --show`` uses); and ``records``,
a JSON list (0-d string array) of every drawn value. :func:`blurkit.kernels.load_kernel_bank` reads
the ``kernels`` array, so ``make --set kernel=bank --set bank=bank.npz`` uses the bank directly.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from blurkit._rng import item_seed
from blurkit.io import atomic_write_bytes
from blurkit.kernels.psf import stack_kernels
from blurkit.ops.degrade import Degradation, DegradeConfig, resolve_config, sample_degradation

KERNEL_RECORD_FIELDS = (
    "kernel_source", "length", "anxiety", "centripetal", "big_shake", "gaussian_shake", "angle", "exposure",
    "scale", "kernel_seed", "kernel_size", "bank", "bank_index", "big_shakes",
)


#: Largest kernel settings accepted: larger ones would need gigabytes per kernel, so they are refused.
MAX_KERNEL_SIZE = 1001
MAX_LENGTH = 1000.0
MAX_SAMPLES = 1_000_000


def check_limits(config: DegradeConfig) -> None:
    """Refuse kernel settings too large to sample in reasonable memory and time.

    Raises:
        ValueError: ``kernel_size``, ``length`` or ``samples`` beyond the limits above.
    """
    if config.kernel_size is not None and config.kernel_size > MAX_KERNEL_SIZE:
        raise ValueError(f"kernel_size: at most {MAX_KERNEL_SIZE}, got {config.kernel_size}")
    length = config.length if isinstance(config.length, tuple) else (config.length,)
    if max(float(v) for v in length) > MAX_LENGTH:
        raise ValueError(f"length: at most {MAX_LENGTH:g} px, got {config.length!r}")
    if int(config.samples) > MAX_SAMPLES:
        raise ValueError(f"samples: at most {MAX_SAMPLES}, got {config.samples}")


#: Most kernels one bank may hold (about 4 GB of float32 at 64x64); more is refused, not attempted.
MAX_BANK = 1_000_000


def sample_bank(
    count: int, seed: int = 0, preset: str | DegradeConfig = "realistic", overrides: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Degradation]:
    """Sample ``count`` kernels (kernel ``i`` from ``item_seed(seed, f"kernel#{i}")``).

    ``progress`` is called with 1 after each kernel (a progress bar's ``update``).
    """
    if not 1 <= count <= MAX_BANK:
        raise ValueError(f"count: must be in 1..{MAX_BANK}, got {count}")
    if seed < 0:
        raise ValueError(f"seed: must be >= 0, got {seed}")
    config = resolve_config(preset, overrides)
    check_limits(config)
    out = []
    for i in range(count):
        out.append(sample_degradation(item_seed(seed, f"kernel#{i}"), config))
        if progress is not None:
            progress(1)
    return out


def export_kernel_bank(
    out: str | os.PathLike[str],
    count: int,
    seed: int = 0,
    preset: str | DegradeConfig = "realistic",
    overrides: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Sample ``count`` kernels from a preset and write them as a bank ``.npz`` (see the module docstring).

    Raises:
        ValueError: ``count`` outside 1..``MAX_BANK``, a bad preset or override, ``out`` not ending in
            ``.npz`` or not writable (checked before sampling).
    """
    path = Path(out)
    if path.suffix.lower() != ".npz":
        raise ValueError(f"out: a kernel bank is written as .npz, got {path}")
    if not 1 <= count <= MAX_BANK:
        raise ValueError(f"count: must be in 1..{MAX_BANK}, got {count}")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; pass a file name ending in .npz")
    degs = sample_bank(count, seed, preset, overrides, progress=progress)
    records = [
        {k: v for k, v in d.record.items() if k in KERNEL_RECORD_FIELDS} | {"seed": int(d.record["seed"])}
        for d in degs
    ]
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        kernels=stack_kernels([d.kernel for d in degs]),
        sizes=np.array([d.kernel.shape[0] for d in degs], dtype=np.int32),
        seeds=np.array([int(d.record["seed"]) for d in degs], dtype=np.uint64),
        records=np.array(json.dumps(records, sort_keys=True)),
    )
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as exc:
        raise ValueError(f"{path}: cannot write the kernel bank ({exc.strerror or exc})") from exc
    return path


def read_bank_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records stored in a bank written by :func:`export_kernel_bank`."""
    with np.load(Path(path), allow_pickle=False) as z:
        if "records" not in z.files:
            raise ValueError(f"{path}: no records in this bank (not written by blurkit kernel --bank)")
        return list(json.loads(str(z["records"])))


__all__ = ["MAX_BANK", "check_limits", "export_kernel_bank", "read_bank_records", "sample_bank"]
