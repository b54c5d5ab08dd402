"""``blurkit make``: sharp images (folder, glob or list file) → aligned blurry/sharp pairs + manifest.

Each pair's seed is a pure function of the base seed and the source's relative name (and variant), so
worker count, order, sharding, interruptions and resumes never change a pair. Every file is written
atomically; a pair's ``meta/…json`` is written last and marks it complete (see
:mod:`blurkit.synth.manifest`). :func:`make_dataset` checks the settings, plans the items
(:mod:`blurkit.synth.items`) and hands them, with the function that makes one pair
(:mod:`blurkit.synth.blurring`), to the job machinery (:mod:`blurkit.synth.runner`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from blurkit import __version__
from blurkit.ops.degrade import DegradeConfig, resolve_config
from blurkit.synth.blurring import blur_batched, blur_loaded, load_item
from blurkit.synth.items import check_seed, plan_items
from blurkit.synth.job import Job, MakeResult, staged
from blurkit.synth.options import JobOptions
from blurkit.synth.runner import run_job
from blurkit.synth.sources import SourceSet, check_folders, resolve_sources

#: Largest ``batch`` accepted (larger counts are refused, not attempted).
MAX_BATCH = 4096


def make_dataset(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    seed: int = 0,
    preset: str = "realistic",
    overrides: Mapping[str, Any] | None = None,
    variants: int = 1,
    *,
    device: str = "cpu",
    batch: int = 16,
    layout: str = "default",
    options: JobOptions | None = None,
    **job: Any,
) -> MakeResult:
    """Make blurry/sharp pairs from sharp images into ``out``.

    Args:
        src: a folder (searched recursively; relative paths are kept), a glob pattern
            (``"photos/**/*.jpg"``) or a text file listing paths (see :mod:`blurkit.synth.sources`).
        out: output folder (created; must not be inside a source folder).
        seed: base seed; each pair's seed derives from it and the source's relative name.
        preset: degradation preset (see ``blurkit.ops.PRESETS``); ``overrides`` changes its fields.
        variants: pairs per source image (different seeds).
        device: ``"cpu"`` or ``"cuda[:i]"`` (CUDA batches ``batch`` images on the device and ignores
            ``workers``).
        layout: ``default`` (``blur/<name>``, ``sharp/<name>``), ``gopro``
            (``<scene>/{blur,sharp}/NNNNNN``) or ``basicsr`` (``lq/``, ``gt/``); see
            :func:`blurkit.synth.items.plan_items`.
        options: how the job runs (:class:`blurkit.synth.JobOptions`: workers, format, quality, PNG
            level, resume, overwrite, limit, progress, on_error, shard, backend, scheduler, dry run,
            max_pixels, on_note).
        **job: any field of :class:`blurkit.synth.JobOptions` by name (``workers=2``, ``fmt="jpg"``,
            ``resume=True``, ``shard="0/4"``, …), applied on top of ``options``.

    Returns:
        A :class:`MakeResult`; failures are also listed in ``out/errors.csv``.

    Raises:
        OutputError: writing to ``out`` failed (disk full, read-only); pairs written stay complete.
    """
    opts = JobOptions.build(options, **job)
    check_seed(seed)
    check_device(device, batch)
    out_p = Path(out)
    sources = resolve_sources(src)
    check_folders(sources, out_p)
    config = resolve_config(preset, overrides)
    from blurkit.synth.bank import check_limits

    check_limits(config)
    check_bank(config)
    form = opts.pair_format
    local_iter = None
    if device.startswith("cuda"):
        local_iter = functools.partial(
            blur_batched, out=out_p, config=config, form=form, device=device, batch=batch,
            max_pixels=opts.max_pixels,
        )
    stages = (
        functools.partial(load_item, max_pixels=opts.max_pixels),
        functools.partial(blur_loaded, out=out_p, config=config, form=form, device="cpu"),
    )
    return run_job(
        Job(
            out=out_p,
            items=plan_items(sources, seed, variants, opts.limit, layout),
            settings=run_settings(seed, preset, config, variants, opts, sources, layout),
            fn=staged(*stages),
            kernel=True,
            desc="blurkit make",
            local_iter=local_iter,
            stages=stages,
        ),
        opts,
    )


def check_device(device: str, batch: int) -> None:
    """Refuse a device other than ``cpu``/``cuda[:i]``, CUDA where it is missing, and a bad ``batch``."""
    if not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"batch: must be in 1..{MAX_BATCH}, got {batch}")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"device: expected 'cpu' or 'cuda[:i]', got {device!r}")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"device: {device!r} requested but CUDA is not available")


def run_settings(
    seed: int, preset: str, config: DegradeConfig, variants: int, options: JobOptions,
    sources: SourceSet | None = None, layout: str = "default",
) -> dict[str, Any]:
    """What ``blurkit.json`` records; ``resume`` and ``merge`` refuse a run whose settings differ.

    ``sources`` (count and hash of the source names), ``layout`` (only when not ``default``) and
    ``png_level`` and ``png_mode`` (only when not those of earlier versions, see :meth:`JobOptions.settings`) were
    added later; folders written before lack them and stay readable.
    """
    settings: dict[str, Any] = {
        "blurkit_version": __version__,
        "seed": seed,
        "preset": preset,
        "config": config.to_dict(),
        "variants": variants,
        **options.settings(),
    }
    if sources is not None:
        settings["sources"] = sources.fingerprint()
    if layout != "default":
        settings["layout"] = layout
    return settings


def check_bank(config: DegradeConfig) -> None:
    """With ``kernel="bank"``, load the bank once up front: a bad bank is one clear error, not a
    failure of every source."""
    if config.kernel != "bank" or not config.bank:
        return
    from blurkit.kernels.bank import load_kernel_bank

    load_kernel_bank(config.bank, size=config.kernel_size)


__all__ = ["MAX_BATCH", "check_bank", "check_device", "make_dataset", "run_settings"]
