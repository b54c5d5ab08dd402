"""``blurkit make`` and ``blurkit average``: the job commands, and the flags they share.

The flags of :data:`JOB_FLAGS` become one :class:`blurkit.synth.JobOptions` (:func:`job_command`),
with the same defaults; adding a job option is a field of ``JobOptions`` and one entry here.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer

from blurkit.cli.app import app, clean, fail, guard, note, terminate_as_interrupt
from blurkit.cli.settings import convenience_overrides, parse_overrides
from blurkit.synth.job import MakeResult
from blurkit.synth.options import JobOptions

F = TypeVar("F", bound=Callable[..., Any])
_DEFAULT = JobOptions()

#: The flags of :class:`JobOptions` shared by ``make`` and ``average``: parameter → (annotation,
#: default). A parameter sets the field of its name, except ``quiet`` (``progress = not quiet``);
#: ``on_error`` and ``on_note`` print ``failed:`` and ``note:`` lines.
JOB_FLAGS: dict[str, tuple[Any, Any]] = {
    "workers": (Annotated[int, typer.Option(help="CPU worker processes.")], _DEFAULT.workers),
    "fmt": (Annotated[str, typer.Option("--format", help="png (lossless), jpg, webp or tif.")], _DEFAULT.fmt),
    "quality": (Annotated[int, typer.Option(help="Quality for jpg/webp.")], _DEFAULT.quality),
    "png_level": (
        Annotated[int, typer.Option("--png-level", help="PNG compression 0 (fastest, largest) to 9 (smallest); same pixels.")],
        _DEFAULT.png_level,
    ),
    "png_mode": (
        Annotated[str, typer.Option("--png-mode", help="PNG rows: rle (Paeth filter, run-length; fastest) or zlib (libpng filters, zlib at --png-level; earlier versions' files); same pixels.")],
        _DEFAULT.png_mode,
    ),
    "resume": (Annotated[bool, typer.Option("--resume", help="Finish an interrupted run (same settings).")], False),
    "overwrite": (Annotated[bool, typer.Option("--overwrite", help="Replace existing pairs of this job.")], False),
    "limit": (Annotated[int | None, typer.Option(help="Make at most N pairs.")], _DEFAULT.limit),
    "shard": (
        Annotated[str | None, typer.Option(help="Make only shard I/N of the pairs (e.g. 0/4); join with blurkit merge.")],
        None,
    ),
    "backend": (
        Annotated[str, typer.Option(help="local (worker processes) or dask (a Dask cluster).")], _DEFAULT.backend
    ),
    "scheduler": (
        Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://host:8786.")], _DEFAULT.scheduler
    ),
    "dry_run": (Annotated[bool, typer.Option("--dry-run", help="Print what would be done; write nothing.")], False),
    "max_pixels": (
        Annotated[int, typer.Option(help="Refuse images with more pixels (0 = no limit).")], _DEFAULT.max_pixels
    ),
    "quiet": (Annotated[bool, typer.Option("--quiet", help="No progress bar.")], not _DEFAULT.progress),
}


#: ``--out`` of both commands.
OutFolder = Annotated[Path, typer.Option("--out", help="Output folder for pairs (not inside --src).")]


def job_command(fn: F) -> F:
    """Register ``fn`` as a command (errors as one line, :func:`blurkit.cli.app.guard`) with the flags
    of :data:`JOB_FLAGS` added; it receives them as ``options: JobOptions``."""
    sig = inspect.signature(fn, eval_str=True)
    own = [p for name, p in sig.parameters.items() if name != "options"]
    flags = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, (annotation, default) in JOB_FLAGS.items()
    ]

    @functools.wraps(fn)
    def command(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in JOB_FLAGS}
        values["progress"] = not values.pop("quiet")
        return fn(*args, options=JobOptions(**values), **kwargs)

    params = own + flags
    command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params} | {"return": sig.return_annotation}
    return cast(F, app.command()(guard(command)))


@job_command
def make(
    src: Annotated[str, typer.Option("--src", help="Sharp images: a folder (recursive), a quoted glob such as 'photos/**/*.jpg', or a text file of paths.")],
    out: OutFolder,
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
    device: Annotated[str, typer.Option(help="cpu or cuda[:i] (CUDA batches images on the GPU).")] = "cpu",
    batch: Annotated[int, typer.Option(help="Images per GPU batch.")] = 16,
    layout: Annotated[
        str, typer.Option(help="Output layout: default (blur/, sharp/), gopro (<scene>/{blur,sharp}/NNNNNN) or basicsr (lq/, gt/).")
    ] = "default",
    *,
    options: JobOptions,
) -> None:
    """Make aligned blurry/sharp pairs, their kernels and a manifest from sharp images."""
    from blurkit.synth.make import make_dataset

    overrides = parse_overrides(set_)
    flags = convenience_overrides(kernel_size, length, exposure, noise, saturation, jpeg)
    both = sorted(set(overrides) & set(flags))
    if both:
        fail(f"--set {both[0]}=... and its convenience flag both given; use one")
    overrides.update(flags)
    _run(
        lambda opts: make_dataset(
            src, out, seed=seed, preset=preset, overrides=overrides, variants=variants, device=device,
            batch=batch, layout=layout, options=opts,
        ),
        options, kernel=True,
    )


@job_command
def average(
    src: Annotated[str, typer.Option("--src", help="Folder of frame sequences (each folder = one sequence), glob or list file.")],
    out: OutFolder,
    window: Annotated[str, typer.Option(help="Frames per pair: N, or LO,HI drawn per pair from its seed.")] = "7",
    stride: Annotated[int | None, typer.Option(help="Frames between windows (default: the window, no overlap).")] = None,
    seed: Annotated[int, typer.Option(help="Base seed (draws window sizes from a range).")] = 0,
    response: Annotated[str, typer.Option(help="Tone curve for averaging in linear light: srgb, gamma:G or linear.")] = "srgb",
    *,
    options: JobOptions,
) -> None:
    """Average consecutive video frames in linear light into real blurry/sharp pairs (GoPro style)."""
    from blurkit.synth.average import average_frames

    _run(
        lambda opts: average_frames(src, out, window=window, stride=stride, seed=seed, response=response, options=opts),
        options, kernel=False,
    )


def _run(job: Callable[[JobOptions], MakeResult], options: JobOptions, kernel: bool) -> None:
    """Run a make/average job, print its outcome in one line, exit 1 on failures, 2 on bad arguments."""
    from blurkit.synth.job import OutputError
    from blurkit.synth.runner import plan_report
    from blurkit.synth.workers import quiet_decoder_warnings

    quiet_decoder_warnings()

    def report(source: str, reason: str) -> None:
        typer.echo(f"failed: {clean(source)}: {clean(reason)}", err=True)

    try:
        with terminate_as_interrupt():
            result = job(dataclasses.replace(options, on_error=report, on_note=note))
    except OutputError as exc:
        fail(str(exc), 1)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        fail(str(exc))
    if result.dry_run:
        typer.echo("\n".join(clean(line) for line in plan_report(result, options.fmt, kernel).splitlines()))
        return
    out = result.out
    typer.echo(
        f"{result.written} pair(s) written, {result.skipped} already complete, {len(result.errors)} failed -> {out}"
    )
    if result.errors:
        name = result.manifest.name.replace("manifest", "errors") if result.manifest else "errors.csv"
        typer.echo(f"see {out / name if out else name}", err=True)
        raise typer.Exit(code=1)


__all__ = ["JOB_FLAGS", "average", "job_command", "make"]
