"""``blurkit make``: sharp images (folder, glob or list file) → aligned blurry/sharp pairs + manifest.

Each pair's seed is a pure function of the base seed and the source's relative name (and variant), so
worker count, order, sharding, interruptions and resumes never change a pair. Every file is written
atomically; a pair's ``meta/…json`` is written last and marks it complete (see
:mod:`blurkit.synth.manifest`). The job machinery (resume, shards, Dask) is in :mod:`blurkit.synth.runner`.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from blurkit import __version__
from blurkit._rng import item_seed
from blurkit.io import (
    IMAGE_SUFFIXES,
    NAME_MAX,
    ImageReadError,
    check_image_header,
    decode_bytes,
    decoded_to_uint8,
    encode_image,
    read_file_bytes,
    shorten_name,
)
from blurkit.ops.degrade import DegradeConfig, resolve_config
from blurkit.synth.manifest import sha256_bytes
from blurkit.synth.runner import (
    LAYOUTS,
    MAX_WORKERS,
    Item,
    MakeResult,
    Result,
    bind_item,
    is_complete,
    item_paths,
    parse_shard,
    run_job,
    safe_call,
    write_outputs,
)
from blurkit.synth.sources import SourceSet, resolve_sources

OUTPUT_FORMATS = ("png", "jpg", "webp", "tif")
#: Default limit on source size (pixels); larger images fail with a clear error (``max_pixels=0`` lifts it).
MAX_PIXELS = 64_000_000
#: Largest ``variants`` and ``batch`` accepted (larger counts are refused, not attempted).
MAX_VARIANTS = 1000
MAX_BATCH = 4096
#: The scene of a ``gopro`` layout pair whose source sits directly in the source root.
ROOT_SCENE = "scene"
#: Longest suffix an output file gets (``.json``, ``.webp``), for the file-name length limit.
_LONGEST_SUFFIX = 5


def output_name(stem: str) -> str:
    """A pair name safe for every file system: control characters percent-encoded (``%0A``), parts
    too long for a file name (with the longest output suffix) shortened with a hash of the part.
    Ordinary names are returned unchanged.

    >>> output_name("sub/a b"), output_name("new\\nline")
    ('sub/a b', 'new%0Aline')
    """
    parts = []
    for part in stem.split("/"):
        part = "".join(f"%{ord(c):02X}" if ord(c) < 32 or ord(c) == 127 else c for c in part)
        parts.append(shorten_name(part, NAME_MAX - _LONGEST_SUFFIX))
    return "/".join(parts)


def plan_items(
    src: str | os.PathLike[str] | SourceSet, seed: int, variants: int = 1, limit: int | None = None,
    layout: str = "default",
) -> list[Item]:
    """The items of a run, in a fixed order (sorted relative names, then variants).

    ``src`` is a folder, a glob pattern or a list file (see :mod:`blurkit.synth.sources`). ``layout``
    names the outputs (see :func:`blurkit.synth.runner.item_paths`): for ``gopro`` the scene is the
    first folder of the relative name (``scene`` for sources directly in the root) and pairs are
    numbered ``000000``, ``000001``, … per scene in sorted order; for ``basicsr`` the name's folders
    are joined with ``__``. Names are computed before ``limit`` (and before sharding), so they do not
    depend on either.
    """
    if not 1 <= variants <= MAX_VARIANTS:
        raise ValueError(f"variants: must be in 1..{MAX_VARIANTS}, got {variants}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit: must be >= 0, got {limit}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {', '.join(LAYOUTS)}, got {layout!r}")
    sources = src if isinstance(src, SourceSet) else resolve_sources(src)
    stems: dict[str, str] = {}
    outputs: dict[str, str] = {}
    numbers: dict[str, int] = {}
    items: list[Item] = []
    for s in sources.sources:
        stem = str(PurePosixPath(s.rel).with_suffix(""))
        if stem in stems:
            raise ValueError(
                f"{sources.root}: {stems[stem]!r} and {s.rel!r} would write the same pair name {stem!r}; rename one"
            )
        stems[stem] = s.rel
        for j in range(variants):
            key = s.rel if j == 0 else f"{s.rel}#{j}"
            name = output_name(stem if variants == 1 else f"{stem}_v{j}")
            alias = ""
            if layout == "gopro":
                parts = s.rel.split("/")
                scene = output_name(parts[0]) if len(parts) > 1 else ROOT_SCENE
                n = numbers.get(scene, 0)
                numbers[scene] = n + 1
                alias = f"{scene}/{n:06d}"
            elif layout == "basicsr":
                alias = output_name("__".join((stem if variants == 1 else f"{stem}_v{j}").split("/")))
            out_stem = alias or name
            if out_stem in outputs:
                raise ValueError(
                    f"{sources.root}: {outputs[out_stem]!r} and {key!r} would write the same pair name "
                    f"{out_stem!r} (layout {layout}); rename one"
                )
            outputs[out_stem] = key
            items.append(Item(s.path, s.rel, j, key, name, item_seed(seed, key), layout=layout, alias=alias))
    return items[:limit] if limit is not None else items


def check_pixels(path: Path, max_pixels: int) -> None:
    """Refuse a source larger than ``max_pixels`` from its header alone (before decoding it).

    The size is read the way the decoder that will decode the file sees it (by its leading bytes,
    not its suffix); a file whose size cannot be told is refused (see
    :func:`blurkit.io.check_image_header`).
    """
    check_image_header(read_file_bytes(path), path, max_pixels)


def read_source(path: Path, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, dict[str, Any]]:
    """The sharp target as 8-bit RGB and what identifies its source (``source_size``, ``source_sha256``).

    The file is read once: its header is checked (size, pages), then it is decoded.
    """
    data = read_file_bytes(path)
    check_image_header(data, path, max_pixels)
    img = decoded_to_uint8(decode_bytes(data, path), path)
    return img, {"source_size": int(data.size), "source_sha256": sha256_bytes(data.tobytes())}


def read_sharp8(path: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The sharp target as 8-bit RGB (H, W, 3): what is written and what the blur starts from.

    Same result as ``to_uint(read_image(path))`` (EXIF orientation applied, gray expanded, alpha
    dropped, 16-bit rounded to 8), without a float round trip for 8-bit files.
    """
    return read_source(path, max_pixels)[0]


def encode_pair(
    item: Item, fmt: str, quality: int, sharp8: np.ndarray, blurred: np.ndarray,
    kernel: np.ndarray | None, record: Mapping[str, Any],
) -> tuple[list[tuple[str, bytes]], dict[str, Any]]:
    """Encode a pair's files in memory and build its row (checksums of the bytes as written)."""
    p = item_paths(item, fmt, kernel is not None)
    blur_bytes = encode_image(blurred, "." + fmt, quality=quality)
    sharp_bytes = encode_image(sharp8, "." + fmt, quality=quality)
    files = [(p["blur"], blur_bytes), (p["sharp"], sharp_bytes)]
    checksums = {"blur_sha256": sha256_bytes(blur_bytes), "sharp_sha256": sha256_bytes(sharp_bytes)}
    if kernel is not None:
        buf = io.BytesIO()
        np.save(buf, np.asarray(kernel, dtype=np.float32))
        files.append((p["kernel"], buf.getvalue()))
        checksums["kernel_sha256"] = sha256_bytes(buf.getvalue())
    row: dict[str, Any] = {
        "key": item.key,
        "source": item.rel,
        "variant": item.variant,
        "blur": p["blur"],
        "sharp": p["sharp"],
        "kernel": p.get("kernel", ""),
        "height": int(sharp8.shape[0]),
        "width": int(sharp8.shape[1]),
        **record,
        "seed": item.seed,
        **checksums,
    }
    import json

    files.append((p["meta"], (json.dumps(row, indent=1, sort_keys=True) + "\n").encode()))
    return files, row


def _write_pair(
    out: Path, item: Item, fmt: str, quality: int, sharp8: np.ndarray, blurred: np.ndarray,
    kernel: np.ndarray | None, record: Mapping[str, Any],
) -> dict[str, Any]:
    files, row = encode_pair(item, fmt, quality, sharp8, blurred, kernel, record)
    write_outputs(out, files)
    return row


def _process(
    item: Item, out: Path, config: DegradeConfig, fmt: str, quality: int, device: str, max_pixels: int = MAX_PIXELS
) -> dict[str, Any]:
    import torch

    from blurkit.ops.degrade import apply_degradation, sample_degradation

    sharp8, source_id = read_source(item.source, max_pixels)
    deg = sample_degradation(item.seed, config)  # what blur_image does, with a size check in between
    check_kernel_fits(item.source, sharp8.shape, deg.kernel.shape[0])
    x = torch.from_numpy(sharp8).to(device).permute(2, 0, 1)[None].float() / 255.0
    y = apply_degradation(x, torch.from_numpy(deg.kernel)[None].to(device), [deg.record])
    blurred = y[0].permute(1, 2, 0).cpu().numpy()
    return _write_pair(out, item, fmt, quality, sharp8, blurred, deg.kernel, {**deg.record, **source_id})


def check_kernel_fits(path: Path, shape: tuple[int, ...], k: int) -> None:
    """Refuse an image smaller than its kernel (the blur would be mostly border, not motion)."""
    if min(shape[0], shape[1]) < k:
        raise ValueError(
            f"{path}: image {shape[1]}x{shape[0]} is smaller than its {k}x{k} blur kernel; "
            "use larger images or shorter blur (--length, --kernel-size)"
        )


def _run_gpu(
    items: Sequence[Item], out: Path, config: DegradeConfig, fmt: str, quality: int, device: str, batch: int,
    max_pixels: int,
) -> Iterator[Result]:
    """Batched path: decode in threads, blur same-size images together on the device, encode in threads."""
    import torch

    from blurkit.kernels.psf import stack_kernels
    from blurkit.ops.degrade import apply_degradation, sample_degradation

    def read(it: Item) -> Result:
        try:
            img, source_id = read_source(it.source, max_pixels)
            return it, {"image": img, "id": source_id}, None
        except (ImageReadError, FileNotFoundError, ValueError, OSError) as exc:
            return it, None, str(exc)
        except Exception as exc:  # one source must not stop the run
            return it, None, f"{it.source}: {type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for start in range(0, len(items), batch):
            chunk = list(items[start : start + batch])
            groups: dict[tuple[int, ...], list[tuple[Item, np.ndarray]]] = {}
            ids: dict[str, dict[str, Any]] = {}
            for it, got, err in pool.map(read, chunk):
                if got is None:
                    yield it, None, err
                else:
                    groups.setdefault(got["image"].shape, []).append((it, got["image"]))
                    ids[it.key] = got["id"]
            for group in groups.values():
                members, degs = [], []
                for it, img in group:
                    try:
                        d = sample_degradation(it.seed, config)
                        check_kernel_fits(it.source, img.shape, d.kernel.shape[0])
                    except ValueError as exc:
                        yield it, None, str(exc)
                        continue
                    members.append((it, img))
                    degs.append(d)
                if not members:
                    continue
                try:
                    x = torch.from_numpy(np.stack([img for _, img in members])).to(device)
                    x = x.permute(0, 3, 1, 2).float() / 255.0
                    k = torch.from_numpy(stack_kernels([d.kernel for d in degs])).to(device)
                    y = apply_degradation(x, k, [d.record for d in degs]).permute(0, 2, 3, 1).cpu().numpy()
                except ValueError as exc:
                    for it, _ in members:
                        yield it, None, str(exc)
                    continue
                futures = [
                    pool.submit(
                        safe_call,
                        functools.partial(
                            _write_gpu_item, out, fmt, quality, img, yi, d.kernel, {**d.record, **ids[it.key]}
                        ),
                        it,
                    )
                    for (it, img), yi, d in zip(members, y, degs, strict=True)
                ]
                for f in futures:
                    yield f.result()


def _write_gpu_item(
    out: Path, fmt: str, quality: int, img: np.ndarray, yi: np.ndarray, kernel: np.ndarray,
    record: Mapping[str, Any], item: Item,
) -> dict[str, Any]:
    return _write_pair(out, item, fmt, quality, img, yi, kernel, record)


def check_folders(sources: SourceSet, out: Path) -> None:
    """Refuse an output folder that would mix with the sources: inside a source folder (or a recursive
    glob's root), containing it, or containing any source file (symbolic links resolved).

    A flat glob (``photos/*.png``) may write into a folder below its root: its outputs sit at least
    two levels below the output folder and can never match it, and no source lies inside it.
    """
    o = out.resolve()
    if sources.kind == "folder" or "**" in sources.pattern:
        s = sources.root.resolve()
        if o == s or s in o.parents:
            raise ValueError(f"{out}: the output folder must not be inside the source folder {sources.root}")
        if o in s.parents:
            raise ValueError(f"{out}: the output folder must not contain the source folder {sources.root}")
    for src in sources.sources:
        try:
            real = src.path.resolve()
        except (RuntimeError, OSError):  # a symbolic link loop: it fails when read
            continue
        if real == o or o in real.parents:
            raise ValueError(f"{out}: the output folder must not contain a source ({src.path})")


def run_settings(
    seed: int, preset: str, config: DegradeConfig, variants: int, fmt: str, quality: int,
    sources: SourceSet | None = None, layout: str = "default",
) -> dict[str, Any]:
    """What ``blurkit.json`` records; ``resume`` and ``merge`` refuse a run whose settings differ.

    ``sources`` (count and hash of the source names) and ``layout`` (only when not ``default``) were
    added later; folders written before lack them and stay readable.
    """
    settings: dict[str, Any] = {
        "blurkit_version": __version__,
        "seed": seed,
        "preset": preset,
        "config": config.to_dict(),
        "variants": variants,
        "format": fmt,
        "quality": quality,
    }
    if sources is not None:
        settings["sources"] = sources.fingerprint()
    if layout != "default":
        settings["layout"] = layout
    return settings


def check_common(fmt: str, quality: int, workers: int, seed: int, max_pixels: int) -> None:
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"format: expected one of {', '.join(OUTPUT_FORMATS)}, got {fmt!r}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality: must be in 1..100, got {quality}")
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers: must be in 1..{MAX_WORKERS}, got {workers}")
    if not 0 <= seed < 2**128:
        raise ValueError(f"seed: must be in 0..2**128-1, got {seed}")
    if max_pixels < 0:
        raise ValueError(f"max_pixels: must be >= 0 (0 = no limit), got {max_pixels}")


def make_dataset(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    seed: int = 0,
    preset: str = "realistic",
    overrides: Mapping[str, Any] | None = None,
    variants: int = 1,
    workers: int = 1,
    device: str = "cpu",
    fmt: str = "png",
    quality: int = 95,
    resume: bool = False,
    overwrite: bool = False,
    limit: int | None = None,
    batch: int = 16,
    progress: bool = True,
    on_error: Callable[[str, str], None] | None = None,
    *,
    shard: str | tuple[int, int] | None = None,
    backend: str = "local",
    scheduler: str | None = None,
    dry_run: bool = False,
    max_pixels: int = MAX_PIXELS,
    layout: str = "default",
    on_note: Callable[[str], None] | None = None,
) -> MakeResult:
    """Make blurry/sharp pairs from sharp images into ``out``.

    Args:
        src: a folder (searched recursively; relative paths are kept), a glob pattern
            (``"photos/**/*.jpg"``) or a text file listing paths (see :mod:`blurkit.synth.sources`).
        out: output folder (created; must not be inside a source folder).
        seed: base seed; each pair's seed derives from it and the source's relative name.
        preset: degradation preset (see ``blurkit.ops.PRESETS``); ``overrides`` changes its fields.
        variants: pairs per source image (different seeds).
        workers: CPU worker processes (ignored on CUDA, which batches images on the device).
        device: ``"cpu"`` or ``"cuda[:i]"``.
        fmt: output format, ``png`` (lossless, default), ``jpg``, ``webp`` or ``tif``; ``quality`` for lossy ones.
        resume: skip complete pairs of an earlier run with the same settings, redo partial ones.
        overwrite: replace existing pairs (never touches other files).
        limit: make at most this many pairs (the first ones in sorted order, before sharding).
        on_error: called with (source, reason) for each failed source (the CLI prints it).
        shard: ``"i/N"``: make only the pairs whose key hashes to shard ``i`` of ``N`` and write
            ``manifest.shard-i-of-N.csv``; :func:`blurkit.synth.merge_shards` joins the shards.
        backend: ``"local"`` (worker processes) or ``"dask"`` (joblib's Dask backend on the cluster at
            ``scheduler``; every worker must see ``src`` and ``out`` at the same paths).
        dry_run: plan only: count and list what would be made, write nothing.
        max_pixels: sources with more pixels fail with a clear error (0 = no limit).
        layout: ``default`` (``blur/<name>``, ``sharp/<name>``), ``gopro``
            (``<scene>/{blur,sharp}/NNNNNN``) or ``basicsr`` (``lq/``, ``gt/``); see :func:`plan_items`.
        on_note: called with informative lines (e.g. fewer workers than asked for).

    Returns:
        A :class:`MakeResult`; failures are also listed in ``out/errors.csv``.

    Raises:
        OutputError: writing to ``out`` failed (disk full, read-only); pairs written stay complete.
    """
    check_common(fmt, quality, workers, seed, max_pixels)
    if not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"batch: must be in 1..{MAX_BATCH}, got {batch}")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"device: expected 'cpu' or 'cuda[:i]', got {device!r}")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"device: {device!r} requested but CUDA is not available")
    shard_t = parse_shard(shard)
    out_p = Path(out)
    sources = resolve_sources(src)
    check_folders(sources, out_p)
    config = resolve_config(preset, overrides)
    from blurkit.synth.bank import check_limits

    check_limits(config)
    check_bank(config)
    items = plan_items(sources, seed, variants, limit, layout)
    settings = run_settings(seed, preset, config, variants, fmt, quality, sources, layout)
    local_iter = None
    if device.startswith("cuda"):
        local_iter = functools.partial(
            _run_gpu, out=out_p, config=config, fmt=fmt, quality=quality, device=device, batch=batch,
            max_pixels=max_pixels,
        )
    return run_job(
        out=out_p, items=items, settings=settings,
        fn=bind_item(_process, out_p, config, fmt, quality, "cpu", max_pixels),
        fmt=fmt, kernel=True, resume=resume, overwrite=overwrite, workers=workers, backend=backend,
        scheduler=scheduler, shard=shard_t, dry_run=dry_run, progress=progress, on_error=on_error,
        desc="blurkit make", local_iter=local_iter, on_note=on_note,
    )


def check_bank(config: DegradeConfig) -> None:
    """With ``kernel="bank"``, load the bank once up front: a bad bank is one clear error, not a
    failure of every source."""
    if config.kernel != "bank" or not config.bank:
        return
    from blurkit.kernels.bank import load_kernel_bank

    load_kernel_bank(config.bank, size=config.kernel_size)


__all__ = ["IMAGE_SUFFIXES", "MAX_PIXELS", "Item", "MakeResult", "is_complete", "make_dataset", "plan_items"]
