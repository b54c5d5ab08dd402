"""The ``blurkit`` command line: thin wrappers over library functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="blurkit",
    help="Realistic synthetic motion blur: make blurry/sharp pairs, look at kernels.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


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


@app.command()
def make(
    src: Annotated[Path, typer.Option("--src", help="Folder of sharp images (recursive).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for pairs (not inside --src).")],
    seed: Annotated[int, typer.Option(help="Base seed; each pair's seed derives from it and the file's path.")] = 0,
    preset: Annotated[str, typer.Option(help="Degradation preset: deblurgan, realistic, realistic_jpeg, line.")] = "realistic",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a preset field, e.g. --set length=10,40 --set shot=0 (repeatable)."),
    ] = None,
    variants: Annotated[int, typer.Option(help="Pairs per source image.")] = 1,
    workers: Annotated[int, typer.Option(help="CPU worker processes.")] = 1,
    device: Annotated[str, typer.Option(help="cpu or cuda[:i] (CUDA batches images on the GPU).")] = "cpu",
    fmt: Annotated[str, typer.Option("--format", help="png (lossless), jpg, webp or tif.")] = "png",
    quality: Annotated[int, typer.Option(help="Quality for jpg/webp.")] = 95,
    resume: Annotated[bool, typer.Option("--resume", help="Finish an interrupted run (same settings).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing pairs of this job.")] = False,
    limit: Annotated[int | None, typer.Option(help="Make at most N pairs.")] = None,
    batch: Annotated[int, typer.Option(help="Images per GPU batch.")] = 16,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Make aligned blurry/sharp pairs, their kernels and a manifest from a folder of sharp images."""
    from blurkit.synth.dataset import make_dataset

    def report(source: str, reason: str) -> None:
        typer.echo(f"failed: {source}: {reason}", err=True)

    try:
        result = make_dataset(
            src, out, seed=seed, preset=preset, overrides=parse_overrides(set_), variants=variants,
            workers=workers, device=device, fmt=fmt, quality=quality, resume=resume, overwrite=overwrite,
            limit=limit, batch=batch, progress=not quiet, on_error=report,
        )
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        _fail(str(exc))
        return
    typer.echo(
        f"{result.written} pair(s) written, {result.skipped} already complete, {len(result.errors)} failed -> {out}"
    )
    if result.errors:
        typer.echo(f"see {out / 'errors.csv'}", err=True)
        raise typer.Exit(code=1)


@app.command()
def kernel(
    show: Annotated[bool, typer.Option("--show", help="Draw sampled kernels in the terminal.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Also save the grid as a PNG.")] = None,
    count: Annotated[int, typer.Option(help="Number of kernels.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    preset: Annotated[str, typer.Option(help="Preset whose kernel settings are used.")] = "realistic",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a preset field (repeatable).")] = None,
    size: Annotated[int | None, typer.Option(help="Impose an odd kernel size.")] = None,
    width: Annotated[int, typer.Option(help="Terminal cells per kernel side.")] = 20,
    columns: Annotated[int, typer.Option(help="Kernels per row.")] = 4,
) -> None:
    """Sample kernels from a preset and show them (terminal and/or PNG with trajectories)."""
    from blurkit.ops.degrade import resolve_config, sample_degradation
    from blurkit.viz import _trajectory_pixels, kernel_to_text, save_kernel_grid, text_grid

    if not show and out is None:
        _fail("nothing to do: pass --show and/or --out FILE.png")
    if count < 1:
        _fail(f"count: must be >= 1, got {count}")
    try:
        overrides = parse_overrides(set_)
        if size is not None:
            overrides["kernel_size"] = size
        config = resolve_config(preset, overrides)
        from blurkit._rng import item_seed

        degs = [sample_degradation(item_seed(seed, f"kernel#{i}"), config) for i in range(count)]
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
        save_kernel_grid(out, [d.kernel for d in degs], titles, paths, columns=columns)
        typer.echo(f"saved {out}")


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
def samples(
    out: Annotated[Path, typer.Argument(help="Folder to write the sample photos into.")],
) -> None:
    """Write the sample photos bundled with scikit-image (PNG) into a folder."""
    from blurkit.samples import write_samples

    paths = write_samples(out)
    typer.echo(f"{len(paths)} sample image(s) in {out}")


@app.command()
def presets() -> None:
    """List the degradation presets and their settings."""
    from blurkit.ops.degrade import PRESETS

    for name, cfg in PRESETS.items():
        typer.echo(f"{name}: {json.dumps(cfg.to_dict())}")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
