"""``blurkit samples`` and ``blurkit presets``: sample photos to start from, the presets in full."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from blurkit.cli.app import app, fail, guard


@app.command()
@guard
def samples(
    out: Annotated[Path, typer.Argument(help="Folder to write the sample photos into.")],
) -> None:
    """Write the sample photos bundled with scikit-image (PNG) into a folder."""
    from blurkit.samples import write_samples

    try:
        paths = write_samples(out)
    except OSError as exc:
        fail(f"{out}: cannot write the sample photos ({exc.strerror or exc})", 1)
        return
    typer.echo(f"{len(paths)} sample image(s) in {out}")


@app.command()
@guard
def presets() -> None:
    """List the degradation presets and their settings."""
    from blurkit.ops.degrade import PRESETS

    for name, cfg in PRESETS.items():
        typer.echo(f"{name}: {json.dumps(cfg.to_dict())}")


__all__ = ["presets", "samples"]
