"""``blurkit make``: a folder of sharp images → a folder of aligned blurry/sharp pairs + manifest.

Each pair's seed is a pure function of the base seed and the source's relative path (and variant), so
worker count, order, interruptions and resumes never change a pair. Every file is written atomically;
a pair's ``meta/…json`` is written last and marks it complete (see :mod:`blurkit.synth.manifest`).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from blurkit import __version__
from blurkit._rng import item_seed
from blurkit.io import (
    IMAGE_SUFFIXES,
    ImageReadError,
    atomic_write_bytes,
    encode_image,
    list_images,
    read_image,
    to_uint,
)
from blurkit.ops.degrade import DegradeConfig, resolve_config
from blurkit.synth.manifest import (
    ERRORS_FILE,
    RUN_FILE,
    collect_rows,
    read_json,
    sha256_bytes,
    sha256_file,
    write_json,
    write_manifest,
)

OUTPUT_FORMATS = ("png", "jpg", "webp", "tif")


@dataclass(frozen=True)
class Item:
    """One pair to make: a source image and a variant index."""

    source: Path
    rel: str
    variant: int
    key: str
    name: str
    seed: int


@dataclass
class MakeResult:
    """What a run did: pairs written, pairs already complete (resume), failures (source, reason)."""

    written: int = 0
    skipped: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    out: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def plan_items(src: Path, seed: int, variants: int = 1, limit: int | None = None) -> list[Item]:
    """The items of a run, in a fixed order (sorted relative paths, then variants)."""
    if variants < 1:
        raise ValueError(f"variants: must be >= 1, got {variants}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit: must be >= 0, got {limit}")
    sources = list_images(src)
    stems: dict[str, str] = {}
    items: list[Item] = []
    for path in sources:
        rel = path.relative_to(src).as_posix()
        stem = str(PurePosixPath(rel).with_suffix(""))
        if stem in stems:
            raise ValueError(
                f"{src}: {stems[stem]!r} and {rel!r} would write the same pair name {stem!r}; rename one"
            )
        stems[stem] = rel
        for j in range(variants):
            key = rel if j == 0 else f"{rel}#{j}"
            name = stem if variants == 1 else f"{stem}_v{j}"
            items.append(Item(path, rel, j, key, name, item_seed(seed, key)))
    return items[:limit] if limit is not None else items


def _paths(item: Item, fmt: str) -> dict[str, str]:
    return {
        "blur": f"blur/{item.name}.{fmt}",
        "sharp": f"sharp/{item.name}.{fmt}",
        "kernel": f"kernels/{item.name}.npy",
        "meta": f"meta/{item.name}.json",
    }


def is_complete(out: Path, item: Item, fmt: str) -> bool:
    """A pair is complete when its meta file exists and both images match their checksums."""
    p = _paths(item, fmt)
    meta = out / p["meta"]
    if not meta.is_file():
        return False
    try:
        row = read_json(meta)
        return all(
            (out / p[k]).is_file() and sha256_file(out / p[k]) == row.get(f"{k}_sha256") for k in ("blur", "sharp")
        ) and (out / p["kernel"]).is_file()
    except (OSError, ValueError):
        return False


def _encode_suffix(fmt: str) -> str:
    return "." + fmt


def _write_pair(
    out: Path, item: Item, fmt: str, quality: int, sharp8: np.ndarray, blurred: np.ndarray,
    kernel: np.ndarray, record: Mapping[str, Any],
) -> dict[str, Any]:
    p = _paths(item, fmt)
    blur_bytes = encode_image(blurred, _encode_suffix(fmt), quality=quality)
    sharp_bytes = encode_image(sharp8, _encode_suffix(fmt), quality=quality)
    atomic_write_bytes(out / p["blur"], blur_bytes)
    atomic_write_bytes(out / p["sharp"], sharp_bytes)
    import io as _io

    buf = _io.BytesIO()
    np.save(buf, np.asarray(kernel, dtype=np.float32))
    atomic_write_bytes(out / p["kernel"], buf.getvalue())
    row: dict[str, Any] = {
        "key": item.key,
        "source": item.rel,
        "variant": item.variant,
        "blur": p["blur"],
        "sharp": p["sharp"],
        "kernel": p["kernel"],
        "height": int(sharp8.shape[0]),
        "width": int(sharp8.shape[1]),
        **record,
        "seed": item.seed,
        "blur_sha256": sha256_bytes(blur_bytes),
        "sharp_sha256": sha256_bytes(sharp_bytes),
    }
    write_json(out / p["meta"], row)
    return row


def _read_sharp(item: Item) -> np.ndarray:
    """The sharp target as 8-bit RGB (what is written and what the blur starts from)."""
    return to_uint(read_image(item.source))


def _process(item: Item, out: Path, config: DegradeConfig, fmt: str, quality: int, device: str) -> dict[str, Any]:
    from blurkit.synth.pair import blur_image

    sharp8 = _read_sharp(item)
    blurred, kernel, record = blur_image(sharp8.astype(np.float32) / 255.0, item.seed, config, device=device)
    return _write_pair(out, item, fmt, quality, sharp8, blurred, kernel, record)


def _safe(fn: Callable[[], dict[str, Any]], item: Item) -> tuple[Item, dict[str, Any] | None, str | None]:
    try:
        return item, fn(), None
    except (ImageReadError, FileNotFoundError, ValueError, OSError) as exc:
        return item, None, str(exc)


def _worker_chunk(
    items: Sequence[Item], out: Path, config: DegradeConfig, fmt: str, quality: int
) -> list[tuple[Item, dict[str, Any] | None, str | None]]:
    """Run in a worker process: one thread each for torch and numba (the pool provides parallelism)."""
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    return [_safe(functools.partial(_process, it, out, config, fmt, quality, "cpu"), it) for it in items]


def _run_gpu(
    items: Sequence[Item], out: Path, config: DegradeConfig, fmt: str, quality: int, device: str, batch: int
) -> Iterator[tuple[Item, dict[str, Any] | None, str | None]]:
    """Batched path: decode in threads, blur same-size images together on the device, encode in threads."""
    import torch

    from blurkit.kernels.psf import stack_kernels
    from blurkit.ops.degrade import apply_degradation, sample_degradation

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for start in range(0, len(items), batch):
            chunk = list(items[start : start + batch])
            reads = list(pool.map(lambda it: _safe_read(it), chunk))
            groups: dict[tuple[int, ...], list[tuple[Item, np.ndarray]]] = {}
            for it, img, err in reads:
                if err is not None or img is None:
                    yield it, None, err
                else:
                    groups.setdefault(img.shape, []).append((it, img))
            for members in groups.values():
                try:
                    degs = [sample_degradation(it.seed, config) for it, _ in members]
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
                        _safe, functools.partial(_write_pair, out, it, fmt, quality, img, yi, d.kernel, d.record), it
                    )
                    for (it, img), yi, d in zip(members, y, degs, strict=True)
                ]
                for f in futures:
                    yield f.result()


def _safe_read(item: Item) -> tuple[Item, np.ndarray | None, str | None]:
    try:
        return item, _read_sharp(item), None
    except (ImageReadError, FileNotFoundError, ValueError, OSError) as exc:
        return item, None, str(exc)


def _check_folders(src: Path, out: Path) -> None:
    if not src.exists():
        raise FileNotFoundError(f"{src}: source folder does not exist")
    if not src.is_dir():
        raise ValueError(f"{src}: source is not a folder")
    s, o = src.resolve(), out.resolve()
    if o == s or s in o.parents:
        raise ValueError(f"{out}: the output folder must not be inside the source folder {src}")
    if o in s.parents:
        raise ValueError(f"{out}: the output folder must not contain the source folder {src}")


def _run_settings(seed: int, preset: str, config: DegradeConfig, variants: int, fmt: str, quality: int) -> dict[str, Any]:
    return {
        "blurkit_version": __version__,
        "seed": seed,
        "preset": preset,
        "config": config.to_dict(),
        "variants": variants,
        "format": fmt,
        "quality": quality,
    }


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
) -> MakeResult:
    """Make blurry/sharp pairs from every image under ``src`` into ``out``.

    Args:
        src: folder of sharp images (searched recursively; relative paths are kept).
        out: output folder (created; must not be inside ``src``).
        seed: base seed; each pair's seed derives from it and the source's relative path.
        preset: degradation preset (see ``blurkit.ops.PRESETS``); ``overrides`` changes its fields.
        variants: pairs per source image (different seeds).
        workers: CPU worker processes (ignored on CUDA, which batches images on the device).
        device: ``"cpu"`` or ``"cuda[:i]"``.
        fmt: output format, ``png`` (lossless, default), ``jpg``, ``webp`` or ``tif``; ``quality`` for lossy ones.
        resume: skip complete pairs of an earlier run with the same settings, redo partial ones.
        overwrite: replace existing pairs (never touches other files).
        limit: make at most this many pairs (the first ones in sorted order).
        on_error: called with (source, reason) for each failed source (the CLI prints it).

    Returns:
        A :class:`MakeResult`; failures are also listed in ``out/errors.csv``.
    """
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"format: expected one of {', '.join(OUTPUT_FORMATS)}, got {fmt!r}")
    if workers < 1:
        raise ValueError(f"workers: must be >= 1, got {workers}")
    if batch < 1:
        raise ValueError(f"batch: must be >= 1, got {batch}")
    if seed < 0:
        raise ValueError(f"seed: must be >= 0, got {seed}")
    if resume and overwrite:
        raise ValueError("resume/overwrite: choose one")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"device: expected 'cpu' or 'cuda[:i]', got {device!r}")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"device: {device!r} requested but CUDA is not available")
    src_p, out_p = Path(src), Path(out)
    _check_folders(src_p, out_p)
    config = resolve_config(preset, overrides)
    items = plan_items(src_p, seed, variants, limit)
    settings = _run_settings(seed, preset, config, variants, fmt, quality)

    run_file = out_p / RUN_FILE
    existing = [it for it in items if (out_p / _paths(it, fmt)["meta"]).exists() or (out_p / _paths(it, fmt)["blur"]).exists()]
    if existing and not (resume or overwrite):
        raise FileExistsError(
            f"{out_p}: already holds {len(existing)} pair(s) of this job (e.g. {_paths(existing[0], fmt)['blur']}); "
            "pass --resume to finish an interrupted run or --overwrite to replace them"
        )
    if resume and run_file.is_file():
        previous = read_json(run_file)
        changed = sorted(k for k in settings if k != "blurkit_version" and previous.get(k) != settings[k])
        if changed:
            raise ValueError(
                f"{run_file}: --resume with different settings ({', '.join(changed)}); "
                "use the same settings or a new output folder"
            )
    out_p.mkdir(parents=True, exist_ok=True)
    write_json(run_file, settings)

    result = MakeResult(out=out_p)
    todo = []
    for it in items:
        if resume and is_complete(out_p, it, fmt):
            result.skipped += 1
        else:
            todo.append(it)

    for it, row, err in _execute(todo, out_p, config, fmt, quality, device, workers, batch, progress):
        if err is not None:
            result.errors.append((it.rel, err))
            if on_error is not None:
                on_error(it.rel, err)
        elif row is not None:
            result.written += 1

    write_manifest(out_p, collect_rows(out_p))
    errors_path = out_p / ERRORS_FILE
    if result.errors:
        import pandas as pd

        df = pd.DataFrame(result.errors, columns=["source", "reason"]).drop_duplicates()
        atomic_write_bytes(errors_path, df.to_csv(index=False).encode())
    elif errors_path.exists():
        errors_path.unlink()
    return result


def _execute(
    todo: Sequence[Item], out: Path, config: DegradeConfig, fmt: str, quality: int, device: str,
    workers: int, batch: int, progress: bool,
) -> Iterable[tuple[Item, dict[str, Any] | None, str | None]]:
    from tqdm import tqdm

    bar = tqdm(total=len(todo), unit="pair", disable=not progress, file=sys.stderr, desc="blurkit make")
    try:
        if device.startswith("cuda"):
            gen: Iterable[Any] = _run_gpu(todo, out, config, fmt, quality, device, batch)
            for res in gen:
                bar.update(1)
                yield res
        elif workers == 1:
            for it in todo:
                res = _safe(functools.partial(_process, it, out, config, fmt, quality, "cpu"), it)
                bar.update(1)
                yield res
        else:
            from joblib import Parallel, delayed

            chunk = max(1, min(8, len(todo) // (workers * 4) or 1))
            chunks = [todo[i : i + chunk] for i in range(0, len(todo), chunk)]
            par = Parallel(n_jobs=workers, return_as="generator_unordered", pre_dispatch="2*n_jobs")
            for results in par(delayed(_worker_chunk)(c, out, config, fmt, quality) for c in chunks):
                for res in results:
                    bar.update(1)
                    yield res
    finally:
        bar.close()


__all__ = ["IMAGE_SUFFIXES", "Item", "MakeResult", "is_complete", "make_dataset", "plan_items"]
