"""The ``blurkit`` command line: thin wrappers over library functions.

Every command prints one line per problem and exits non-zero; no user input, argument or
file-system state ends in a traceback (:func:`_guard`): bad arguments exit with 2, a run that
stopped or found failures with 1, an interruption with 130.
"""

from __future__ import annotations

import functools
import json
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer

app = typer.Typer(
    name="blurkit",
    help="Realistic synthetic motion blur: make blurry/sharp pairs, look at kernels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


F = TypeVar("F", bound=Callable[..., Any])


def clean(text: object) -> str:
    """``text`` on one line: control characters (a newline in a file name) shown as ``\\xNN`` escapes,
    so that no input can forge or split an output line.

    >>> clean("a\\nfailed: b.png")
    'a\\\\x0afailed: b.png'
    """
    return "".join(
        f"\\x{ord(c):02x}" if ord(c) < 32 or 127 <= ord(c) < 160 or c in "\u2028\u2029" else c for c in str(text)
    )


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {clean(message)}", err=True)
    raise typer.Exit(code=code)


def _os_error(exc: OSError) -> str:
    if exc.filename is not None:
        where = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else str(exc.filename)
        return f"{where}: {exc.strerror or exc}"
    return str(exc) or type(exc).__name__


def _guard(fn: F) -> F:
    """Turn any exception of a command into one ``error:`` line and an exit code (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            _fail("interrupted; files written so far are complete (run again with --resume to finish)", 130)
        except FileNotFoundError as exc:
            _fail(_os_error(exc) if exc.errno is not None else str(exc), 2 if exc.errno is None else 1)
        except OSError as exc:
            _fail(_os_error(exc), 1)
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            _fail(str(exc) or type(exc).__name__, 2)
        except MemoryError:
            _fail("out of memory", 1)
        except Exception as exc:  # the last line of defence: still one line, no traceback
            _fail(f"{type(exc).__name__}: {exc}", 1)

    return wrapper  # type: ignore[return-value]


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While a job runs, SIGTERM stops it like Ctrl-C (workers stopped, temporary files removed)."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def parse_value(text: str) -> Any:
    """A ``--set`` value: JSON (numbers, lists, null, true), ``a,b`` ranges, or a plain string."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        if "," in text:
            try:
                return tuple(float(v) for v in text.split(","))
            except ValueError:
                return text
        return text
    return tuple(value) if isinstance(value, list) else value


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--set: expected FIELD=VALUE, got {item!r}")
        key, _, value = item.partition("=")
        overrides[key.strip().replace("-", "_")] = parse_value(value.strip())
    return overrides


def _numbers(flag: str, text: str, count: tuple[int, ...]) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{flag}: expected numbers separated by commas, got {text!r}") from None
    if len(values) not in count:
        raise ValueError(f"{flag}: expected {' or '.join(map(str, count))} number(s), got {text!r}")
    return values


def convenience_overrides(
    kernel_size: int | None = None,
    length: str | None = None,
    exposure: str | None = None,
    noise: str | None = None,
    saturation: str | None = None,
    jpeg: str | None = None,
) -> dict[str, Any]:
    """Map the convenience flags of ``make`` onto config fields.

    ``--kernel-size K`` → ``kernel_size``; ``--length L`` or ``LO,HI`` → ``length``; ``--exposure F,..``
    (fractions to choose from) → ``exposure``; ``--noise SHOT,READ`` → ``shot``, ``read`` (``0``
    disables noise); ``--saturation B`` or ``LO,HI`` → ``boost`` (``1`` disables the highlight boost);
    ``--jpeg Q`` or ``LO,HI`` → ``jpeg_quality`` (``0`` or ``none`` disables JPEG).

    >>> convenience_overrides(length="10,40", noise="0", jpeg="70,90")
    {'length': (10.0, 40.0), 'shot': 0.0, 'read': 0.0, 'jpeg_quality': (70, 90)}
    """
    o: dict[str, Any] = {}
    if kernel_size is not None:
        o["kernel_size"] = kernel_size
    if length is not None:
        o["length"] = _pair(_numbers("--length", length, (1, 2)))
    if exposure is not None:
        o["exposure"] = _numbers("--exposure", exposure, tuple(range(1, 65)))
    if noise is not None:
        v = _numbers("--noise", noise, (1, 2))
        if len(v) == 1 and v[0] != 0:
            raise ValueError(f"--noise: expected SHOT,READ (or 0 to disable), got {noise!r}")
        o["shot"], o["read"] = (0.0, 0.0) if len(v) == 1 else v
    if saturation is not None:
        o["boost"] = _pair(_numbers("--saturation", saturation, (1, 2)))
    if jpeg is not None:
        if jpeg.strip().lower() in ("0", "none", "off"):
            o["jpeg_quality"] = None
        else:
            q = _numbers("--jpeg", jpeg, (1, 2))
            if any(v != int(v) for v in q):
                raise ValueError(f"--jpeg: expected integer qualities in 1..100, got {jpeg!r}")
            o["jpeg_quality"] = (int(q[0]), int(q[-1]))
    return o


def _pair(v: tuple[float, ...]) -> tuple[float, float] | float:
    return v[0] if len(v) == 1 else (v[0], v[1])


@app.command()
@_guard
def make(
    src: Annotated[str, typer.Option("--src", help="Sharp images: a folder (recursive), a quoted glob such as 'photos/**/*.jpg', or a text file of paths.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for pairs (not inside --src).")],
    seed: Annotated[int, typer.Option(help="Base seed; each pair's seed derives from it and the file's path.")] = 0,
    preset: Annotated[str, typer.Option(help="Degradation preset: deblurgan, realistic, realistic_jpeg, line.")] = "realistic",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a preset field, e.g. --set length=10,40 --set shot=0 (repeatable)."),
    ] = None,
    kernel_size: Annotated[int | None, typer.Option("--kernel-size", help="Odd kernel size (default: fit each kernel).")] = None,
    length: Annotated[str | None, typer.Option("--length", help="Blur length in px: L or LO,HI.")] = None,
    exposure: Annotated[str | None, typer.Option("--exposure", help="Exposure fractions to choose from, e.g. 0.5,1.")] = None,
    noise: Annotated[str | None, typer.Option("--noise", help="Sensor noise SHOT,READ (std at full scale), or 0 to disable.")] = None,
    saturation: Annotated[str | None, typer.Option("--saturation", help="Highlight boost B or LO,HI; 1 disables.")] = None,
    jpeg: Annotated[str | None, typer.Option("--jpeg", help="JPEG quality Q or LO,HI after the blur; 0 disables.")] = None,
    variants: Annotated[int, typer.Option(help="Pairs per source image.")] = 1,
    workers: Annotated[int, typer.Option(help="CPU worker processes.")] = 1,
    device: Annotated[str, typer.Option(help="cpu or cuda[:i] (CUDA batches images on the GPU).")] = "cpu",
    fmt: Annotated[str, typer.Option("--format", help="png (lossless), jpg, webp or tif.")] = "png",
    quality: Annotated[int, typer.Option(help="Quality for jpg/webp.")] = 95,
    resume: Annotated[bool, typer.Option("--resume", help="Finish an interrupted run (same settings).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing pairs of this job.")] = False,
    limit: Annotated[int | None, typer.Option(help="Make at most N pairs.")] = None,
    batch: Annotated[int, typer.Option(help="Images per GPU batch.")] = 16,
    shard: Annotated[str | None, typer.Option(help="Make only shard I/N of the pairs (e.g. 0/4); join with blurkit merge.")] = None,
    backend: Annotated[str, typer.Option(help="local (worker processes) or dask (a Dask cluster).")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://host:8786.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be done; write nothing.")] = False,
    max_pixels: Annotated[int, typer.Option(help="Refuse sources with more pixels (0 = no limit).")] = 64_000_000,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    layout: Annotated[
        str, typer.Option(help="Output layout: default (blur/, sharp/), gopro (<scene>/{blur,sharp}/NNNNNN) or basicsr (lq/, gt/).")
    ] = "default",
) -> None:
    """Make aligned blurry/sharp pairs, their kernels and a manifest from sharp images."""
    from blurkit.synth.dataset import make_dataset

    try:
        overrides = parse_overrides(set_)
        flags = convenience_overrides(kernel_size, length, exposure, noise, saturation, jpeg)
    except ValueError as exc:
        _fail(str(exc))
        return
    both = sorted(set(overrides) & set(flags))
    if both:
        _fail(f"--set {both[0]}=... and its convenience flag both given; use one")
    overrides.update(flags)
    _run(
        lambda report: make_dataset(
            src, out, seed=seed, preset=preset, overrides=overrides, variants=variants,
            workers=workers, device=device, fmt=fmt, quality=quality, resume=resume, overwrite=overwrite,
            limit=limit, batch=batch, progress=not quiet, on_error=report, shard=shard, backend=backend,
            scheduler=scheduler, dry_run=dry_run, max_pixels=max_pixels, layout=layout, on_note=_note,
        ),
        out, fmt, kernel=True,
    )


@app.command()
@_guard
def average(
    src: Annotated[str, typer.Option("--src", help="Folder of frame sequences (each folder = one sequence), glob or list file.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for pairs (not inside --src).")],
    window: Annotated[str, typer.Option(help="Frames per pair: N, or LO,HI drawn per pair from its seed.")] = "7",
    stride: Annotated[int | None, typer.Option(help="Frames between windows (default: the window, no overlap).")] = None,
    seed: Annotated[int, typer.Option(help="Base seed (draws window sizes from a range).")] = 0,
    response: Annotated[str, typer.Option(help="Tone curve for averaging in linear light: srgb, gamma:G or linear.")] = "srgb",
    workers: Annotated[int, typer.Option(help="CPU worker processes.")] = 1,
    fmt: Annotated[str, typer.Option("--format", help="png (lossless), jpg, webp or tif.")] = "png",
    quality: Annotated[int, typer.Option(help="Quality for jpg/webp.")] = 95,
    resume: Annotated[bool, typer.Option("--resume", help="Finish an interrupted run (same settings).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing pairs of this job.")] = False,
    limit: Annotated[int | None, typer.Option(help="Make at most N pairs.")] = None,
    shard: Annotated[str | None, typer.Option(help="Make only shard I/N of the pairs (e.g. 0/4).")] = None,
    backend: Annotated[str, typer.Option(help="local (worker processes) or dask (a Dask cluster).")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://host:8786.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be done; write nothing.")] = False,
    max_pixels: Annotated[int, typer.Option(help="Refuse frames with more pixels (0 = no limit).")] = 64_000_000,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Average consecutive video frames in linear light into real blurry/sharp pairs (GoPro style)."""
    from blurkit.synth.average import average_frames

    _run(
        lambda report: average_frames(
            src, out, window=window, stride=stride, seed=seed, response=response, workers=workers, fmt=fmt,
            quality=quality, resume=resume, overwrite=overwrite, limit=limit, progress=not quiet,
            on_error=report, shard=shard, backend=backend, scheduler=scheduler, dry_run=dry_run,
            max_pixels=max_pixels, on_note=_note,
        ),
        out, fmt, kernel=False,
    )


@app.command()
@_guard
def merge(
    out: Annotated[Path, typer.Argument(help="Pair folder holding every shard's files (manifest.shard-I-of-N.csv, meta/).")],
) -> None:
    """Merge the shard manifests of a sharded make/average run into manifest.csv."""
    from blurkit.synth.shards import merge_shards

    try:
        report = merge_shards(out)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
        return
    problems = report.problems()
    for line in problems[:50]:
        typer.echo(clean(line), err=True)
    if len(problems) > 50:
        typer.echo(f"... and {len(problems) - 50} more", err=True)
    typer.echo(f"{report.pairs} pair(s) from {report.shards} shard(s) -> {report.manifest}")
    if problems:
        typer.echo(f"{len(problems)} problem(s): incomplete merge", err=True)
        raise typer.Exit(code=1)


@app.command()
@_guard
def inspect(
    pairs: Annotated[Path, typer.Argument(help="Pair folder (with manifest.csv).")],
    out: Annotated[Path | None, typer.Option("--out", help="Write a contact sheet PNG (blurred | sharp | kernel).")] = None,
    sample: Annotated[int, typer.Option(help="Pairs on the contact sheet.")] = 12,
    seed: Annotated[int, typer.Option(help="Seed choosing the sampled pairs.")] = 0,
    psnr_sample: Annotated[int, typer.Option(help="Pairs to compute PSNR on (0 = all).")] = 500,
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="Real pairs (blur/+sharp/ or GoPro layout) to compare realism with."),
    ] = None,
    realism_sample: Annotated[int, typer.Option(help="Pairs of each folder for the realism statistics.")] = 40,
    realism_plot: Annotated[
        Path | None, typer.Option("--realism-plot", help="PNG of the realism distributions (with --reference).")
    ] = None,
) -> None:
    """Summary statistics of a pair folder (kernel lengths, sizes, PSNR) and a contact sheet; with
    --reference, its realism statistics beside real pairs' (offset, noise, blur strength, gradients)."""
    from blurkit.synth.inspection import inspect_pairs

    try:
        if reference is None:
            report = inspect_pairs(pairs, sheet=out, sample=sample, seed=seed, psnr_sample=psnr_sample)
            typer.echo("\n".join(report.lines()))
            return
        from blurkit.synth.realism import realism_report

        if out is not None:
            typer.echo("\n".join(inspect_pairs(pairs, sheet=out, sample=sample, seed=seed, psnr_sample=psnr_sample).lines()))
        typer.echo(realism_report(pairs, reference, limit=realism_sample or None, plot=realism_plot))
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
        return
    except OSError as exc:  # writing the contact sheet or the plot (read-only folder, full disk)
        target = out if out is not None else realism_plot
        where = f"{target}: cannot write the {'contact sheet' if out is not None else 'realism plot'}" if target else str(pairs)
        _fail(f"{where} ({exc.strerror or exc})", 1)
        return


@app.command()
@_guard
def verify(
    pairs: Annotated[Path, typer.Argument(help="Pair folder (with manifest.csv).")],
) -> None:
    """Check that every file of a pair folder exists, decodes and matches the manifest; exit 1 if not."""
    from blurkit.synth.inspection import format_problems, verify_pairs
    from blurkit.synth.manifest import check_manifest

    try:
        structure = check_manifest(pairs)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
        return
    if structure:  # paths outside the folder, bad sizes: do not open any listed file
        for line in structure[:50]:
            typer.echo(clean(line), err=True)
        typer.echo(f"{len(structure)} problem(s) in {clean(pairs)}'s manifest", err=True)
        raise typer.Exit(code=1)
    try:
        problems = verify_pairs(pairs)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        _fail(f"{pairs}: {exc}" if isinstance(exc, KeyError) else str(exc))
        return
    for line in format_problems(problems):
        typer.echo(clean(line), err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {pairs}", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"{pairs}: every pair matches the manifest")


def _note(message: str) -> None:
    typer.echo(f"note: {clean(message)}", err=True)


def _run(job: Any, out: Path, fmt: str, kernel: bool) -> None:
    """Run a make/average job, print its outcome in one line, exit 1 on failures, 2 on bad arguments."""
    from blurkit.synth.runner import OutputError, plan_report, quiet_decoder_warnings

    quiet_decoder_warnings()

    def report(source: str, reason: str) -> None:
        typer.echo(f"failed: {clean(source)}: {clean(reason)}", err=True)

    try:
        with _terminate_as_interrupt():
            result = job(report)
    except OutputError as exc:
        _fail(str(exc), 1)
        return
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        _fail(str(exc))
        return
    if result.dry_run:
        typer.echo(plan_report(result, fmt, kernel))
        return
    typer.echo(
        f"{result.written} pair(s) written, {result.skipped} already complete, {len(result.errors)} failed -> {out}"
    )
    if result.errors:
        name = result.manifest.name.replace("manifest", "errors") if result.manifest else "errors.csv"
        typer.echo(f"see {out / name}", err=True)
        raise typer.Exit(code=1)


@app.command()
@_guard
def kernel(
    show: Annotated[bool, typer.Option("--show", help="Draw sampled kernels in the terminal.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Save the grid as a PNG (or, with --bank, the bank .npz).")] = None,
    bank: Annotated[int | None, typer.Option("--bank", help="Export N sampled kernels to --out bank.npz.")] = None,
    exposure: Annotated[str | None, typer.Option("--exposure", help="Exposure fractions to choose from, e.g. 0.5,1.")] = None,
    count: Annotated[int, typer.Option(help="Number of kernels.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    preset: Annotated[str, typer.Option(help="Preset whose kernel settings are used.")] = "realistic",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a preset field (repeatable).")] = None,
    size: Annotated[int | None, typer.Option(help="Impose an odd kernel size.")] = None,
    width: Annotated[int, typer.Option(help="Terminal cells per kernel side.")] = 20,
    columns: Annotated[int, typer.Option(help="Kernels per row.")] = 4,
) -> None:
    """Sample kernels from a preset and show them (terminal and/or PNG with trajectories)."""
    from blurkit.ops.degrade import resolve_config
    from blurkit.synth.bank import MAX_BANK
    from blurkit.viz import _trajectory_pixels, kernel_to_text, save_kernel_grid, text_grid

    if bank is not None and out is None:
        _fail("--bank: pass --out FILE.npz for the bank")
    if not show and out is None:
        _fail("nothing to do: pass --show and/or --out FILE.png")
    if not 1 <= count <= MAX_SHOW:
        _fail(f"count: must be in 1..{MAX_SHOW}, got {count}")
    if bank is not None and not 1 <= bank <= MAX_BANK:
        _fail(f"--bank: must be in 1..{MAX_BANK} kernels, got {bank}")
    if not 1 <= width <= 400 or not 1 <= columns <= 100:
        _fail(f"width/columns: expected 1..400 cells and 1..100 columns, got {width} and {columns}")
    try:
        overrides = parse_overrides(set_)
        if size is not None:
            overrides["kernel_size"] = size
        if exposure is not None:
            overrides.update(convenience_overrides(exposure=exposure))
        if bank is not None and out is not None:
            import sys

            from tqdm import tqdm

            from blurkit.synth.bank import export_kernel_bank

            with tqdm(total=bank, unit="kernel", file=sys.stderr, desc="blurkit kernel", disable=bank < 200) as bar:
                export_kernel_bank(out, bank, seed=seed, preset=preset, overrides=overrides, progress=bar.update)
            typer.echo(f"{bank} kernel(s) -> {out}")
            if not show:
                return
            out = None
        config = resolve_config(preset, overrides)
        from blurkit.synth.bank import check_limits, sample_bank

        check_limits(config)
        degs = sample_bank(count, seed, config)
    except ValueError as exc:
        _fail(str(exc))
        return
    paths: list[Any] = []
    for d in degs:
        r = d.record
        if config.kernel == "trajectory":
            from blurkit.kernels.trajectory import trajectories_from_seeds

            tr = trajectories_from_seeds([r["kernel_seed"]], config.trajectory_params())
            paths.append(_trajectory_pixels(tr.positions[0], d.kernel.shape[0], r["exposure"], r["scale"]))
        else:
            paths.append(None)
    titles = [_title(d.record, d.kernel.shape[0]) for d in degs]
    if show:
        blocks = [kernel_to_text(d.kernel, width=width, path=p) for d, p in zip(degs, paths, strict=True)]
        typer.echo(text_grid(blocks, titles, columns=columns))
    if out is not None:
        try:
            save_kernel_grid(out, [d.kernel for d in degs], titles, paths, columns=columns)
        except OSError as exc:
            _fail(f"{out}: cannot write the kernel grid ({exc.strerror or exc})", 1)
        typer.echo(f"saved {out}")


#: Most kernels ``kernel --show`` draws.
MAX_SHOW = 1000


def _title(r: dict[str, Any], k: int) -> str:
    parts = [f"{k}x{k}"]
    if "length" in r:
        parts.append(f"L={r['length']:.0f}")
    if "anxiety" in r:
        parts.append(f"a={r['anxiety']:.3f}")
    if r.get("exposure", 1.0) != 1.0:
        parts.append(f"e={r['exposure']:.2f}")
    return " ".join(parts)


@app.command()
@_guard
def samples(
    out: Annotated[Path, typer.Argument(help="Folder to write the sample photos into.")],
) -> None:
    """Write the sample photos bundled with scikit-image (PNG) into a folder."""
    from blurkit.samples import write_samples

    try:
        paths = write_samples(out)
    except OSError as exc:
        _fail(f"{out}: cannot write the sample photos ({exc.strerror or exc})", 1)
        return
    typer.echo(f"{len(paths)} sample image(s) in {out}")


@app.command()
@_guard
def presets() -> None:
    """List the degradation presets and their settings."""
    from blurkit.ops.degrade import PRESETS

    for name, cfg in PRESETS.items():
        typer.echo(f"{name}: {json.dumps(cfg.to_dict())}")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
