"""``blurkit kernel``: sample kernels from a preset, draw them in the terminal or a PNG, export a bank."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from blurkit.cli.app import app, fail, guard
from blurkit.cli.settings import convenience_overrides, parse_overrides

#: Most kernels ``kernel --show`` draws.
MAX_SHOW = 1000


@app.command()
@guard
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
        fail("--bank: pass --out FILE.npz for the bank")
    if not show and out is None:
        fail("nothing to do: pass --show and/or --out FILE.png")
    if not 1 <= count <= MAX_SHOW:
        fail(f"count: must be in 1..{MAX_SHOW}, got {count}")
    if bank is not None and not 1 <= bank <= MAX_BANK:
        fail(f"--bank: must be in 1..{MAX_BANK} kernels, got {bank}")
    if not 1 <= width <= 400 or not 1 <= columns <= 100:
        fail(f"width/columns: expected 1..400 cells and 1..100 columns, got {width} and {columns}")
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
        fail(str(exc))
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
            fail(f"{out}: cannot write the kernel grid ({exc.strerror or exc})", 1)
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


__all__ = ["MAX_SHOW", "kernel"]
