"""``blurkit merge``, ``inspect`` and ``verify``: commands on a pair folder once it is made."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from blurkit.cli.app import app, clean, fail, guard


@app.command()
@guard
def merge(
    out: Annotated[Path, typer.Argument(help="Pair folder holding every shard's files (manifest.shard-I-of-N.csv, meta/).")],
) -> None:
    """Merge the shard manifests of a sharded make/average run into manifest.csv."""
    from blurkit.synth.shards import merge_shards

    try:
        report = merge_shards(out)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
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
@guard
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
        fail(str(exc))
        return
    except OSError as exc:  # writing the contact sheet or the plot (read-only folder, full disk)
        target = out if out is not None else realism_plot
        where = f"{target}: cannot write the {'contact sheet' if out is not None else 'realism plot'}" if target else str(pairs)
        fail(f"{where} ({exc.strerror or exc})", 1)
        return


@app.command()
@guard
def verify(
    pairs: Annotated[Path, typer.Argument(help="Pair folder (with manifest.csv).")],
) -> None:
    """Check that every file of a pair folder exists, decodes and matches the manifest; exit 1 if not."""
    from blurkit.synth.inspection import format_problems, verify_pairs
    from blurkit.synth.manifest import check_manifest

    try:
        structure = check_manifest(pairs)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
        return
    if structure:  # paths outside the folder, bad sizes: do not open any listed file
        for line in structure[:50]:
            typer.echo(clean(line), err=True)
        typer.echo(f"{len(structure)} problem(s) in {clean(pairs)}'s manifest", err=True)
        raise typer.Exit(code=1)
    try:
        problems = verify_pairs(pairs)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        fail(f"{pairs}: {exc}" if isinstance(exc, KeyError) else str(exc))
        return
    for line in format_problems(problems):
        typer.echo(clean(line), err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {pairs}", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"{pairs}: every pair matches the manifest")


__all__ = ["inspect", "merge", "verify"]
