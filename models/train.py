"""Train a deblurring model: ``python -m models.train --config models/configs/deblurgan.toml --out runs/NAME``.

The TOML config holds every hyper-parameter (see ``docs/models.md``); ``[model] name`` picks the
family — ``deblurgan`` (default; WGAN-GP), ``deblurganv2`` (RaLSGAN, double-scale critic),
``svrnn`` or ``nafnet`` (pixel loss, no critic); ``--help`` lists every registered family. One
loop trains them all (:func:`models.training.loop.train`): data, schedule, checkpoints, resume,
validation and logs are shared, and each step calls the family's ``train_step``
(:mod:`models.training.families`). The command line says where things are and how long to run, and
``--set`` changes single config values for quick experiments:

    --config FILE        TOML configuration (required)
    --out DIR            run folder (default ``runs/<config stem>``)
    --resume             continue from ``DIR/checkpoint.pt``
    --data-root DIR      folder that relative data paths of the config are resolved against
                         (default: the current directory)
    --vgg-weights FILE   local VGG ``features`` state dict for the perceptual loss
    --device DEV         ``cuda``, ``cpu`` … (default: CUDA when available)
    --max-minutes M      wall-clock budget: checkpoint and stop cleanly when it is spent
    --no-progress        no tqdm bar
    --set S.K=V          override one config value (TOML syntax), e.g. ``--set optim.lr=5e-4``;
                         repeatable; the run's checkpoint records the config as changed

Multi-GPU: ``torchrun --nproc_per_node N -m models.train ...`` (DistributedDataParallel for the
generator, all-reduced critic gradients, each rank draws its share of every epoch, rank 0 logs,
validates and writes files). ``batch_size`` is per process.

The run folder receives ``checkpoint.pt`` (everything needed to resume: models, optimisers,
schedulers, step, RNG states; the data position is a function of the step), ``log.csv`` (losses per
logged step), ``val.csv`` (PSNR / SSIM-skimage on the validation crops), ``samples/step_NNNNNNN.png``
(rows of blurred | restored | sharp) and, when the run ends or stops, ``generator.pt`` (the latest
generator in the half-precision shipped format, loadable with ``models.load_deblurrer``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from blurkit.scripting import run_main
from models.training.config import load_config
from models.training.families import family_names, get_family
from models.training.loop import train

TRAIN_EXAMPLE = """\
Data sources, fields and recipes: docs/models.md.

example:
  python -m models.train --config models/configs/svrnn_small.toml --data-root DATA --out runs/rnn
"""


def epilog() -> str:
    """The families and shipped configs of ``--help``, from the registered families."""
    families = [get_family(name) for name in family_names()]
    lines = ["model families ([model] name in the config):"]
    lines += [f"  {f.name:<13} {f.label}: {f.summary}" for f in families]
    lines += ["", "shipped configs (models/configs/):"]
    configs = [(name, text) for f in families for name, text in f.configs.items()]
    width = max((len(name) for name, _ in configs), default=0) + 2
    lines += [f"  {name:<{width}}{text}" for name, text in configs]
    return "\n".join(lines) + "\n" + TRAIN_EXAMPLE


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m models.train`` (see the module docstring)."""
    ap = argparse.ArgumentParser(
        prog="python -m models.train",
        description="Train a deblurring model from a TOML config.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=epilog(),
    )
    ap.add_argument("--config", required=True, help="TOML configuration file")
    ap.add_argument("--out", default=None, help="run folder (default runs/<config stem>)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    ap.add_argument("--data-root", default=None, help="folder relative data paths are resolved against")
    ap.add_argument(
        "--vgg-weights",
        default=None,
        help="local VGG features state dict (else $BLURKIT_VGG_WEIGHTS, else download)",
    )
    ap.add_argument("--device", default=None, help="cuda, cpu, ... (default: CUDA when available)")
    ap.add_argument(
        "--max-minutes", type=float, default=None, help="wall-clock budget; checkpoint and stop when spent"
    )
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config value (TOML syntax), e.g. --set optim.lr=5e-4; repeatable",
    )
    return ap


def run(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, train, say where the outputs are."""
    args = build_parser().parse_args(argv)
    config = load_config(args.config, args.set)
    out = args.out or str(Path("runs") / Path(args.config).stem)
    result = train(
        config,
        out,
        resume=args.resume,
        device=args.device,
        vgg_weights=args.vgg_weights,
        data_root=args.data_root,
        max_minutes=args.max_minutes,
        progress=not args.no_progress,
    )
    print(f"{'finished' if result.finished else 'stopped'} at step {result.step}; outputs in {result.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring): errors print one line and give 2."""
    return run_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
