"""The model families side by side (DeblurGAN, DeblurGAN-v2, the spatially variant RNN): cost and quality.

    python -m benchmarks.model_compare --data-root ../shared/data \
        --vgg-weights ../shared/data/vgg/vgg16_imagenet_features_fp16.pth --steps 300 --out runs/model_compare

The models compared are the registered families that say how (``ModelFamily.comparison`` of
:mod:`models.training.families`: a small and a paper-size config, the published numbers, variants
costed beside them); a new family with one is compared without a change here.

Cost (``benchmarks.runtime``): parameters, MACs (``FlopCounterMode``: convolutions and matmuls only,
so the RNN's elementwise scans are not counted) and median latency of one 1280×720 image, on the CPU
and on CUDA when available, for each architecture at its paper-like size (``models/configs/NAME.toml``,
untrained weights: latency does not depend on them).

Quality: each model's ``models/configs/NAME_small.toml`` (CPU-sized networks, 64-pixel crops, each
with its own short-budget loss and learning rate) is trained by ``models.training`` for the SAME number
of steps (``--steps``; learning-rate decay from half way, DeblurGAN's content-only warm-up kept at
its share of the config's steps) on the same data, then scored with ``benchmarks.compare`` (PSNR
RGB, SSIM ``skimage``) on two held-out pair folders made here:

* ``synthetic_test``: ``blurkit make`` (preset ``realistic``) on BSDS500 ``val`` photos (training
  uses ``train``);
* ``gopro_test``: ``blurkit average`` (11 frames, linear light, a slot every 6 frames) on the last
  30 % of each GoPro frame sequence; training uses pairs averaged from the first 70 % (``gopro_pairs``).

``--models`` picks a subset and ``--set MODEL.SECTION.KEY=VALUE`` (:mod:`blurkit.overrides`)
changes one value of a small config (the row lists the changes). A finished run under
``OUT/runs/NAME`` is reused only when its recorded config is the one asked for; any other run there
is an error unless ``--retrain``. Published GoPro numbers (full-size models trained for days on the
GoPro training set) are printed beside the measured ones; only the ranking within a column compares.
Needs ``DATA/bsds500/{train,val}`` and, for the GoPro-style part, ``DATA/gopro_frames/<sequence>/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import markdown_table, metadata, write_json
from benchmarks.compare import compare
from benchmarks.runtime import find_module, measure_runtime
from blurkit.io import atomic_write_bytes
from blurkit.overrides import parse_setting
from blurkit.scripting import UsageError, run_main
from models.training.families import Comparison, ModelFamily, family_names, get_family

GOPRO_TRAIN_FRACTION = 0.7
#: Frames averaged per GoPro-style pair (the GoPro dataset used 7 to 13) and the slot stride.
GOPRO_WINDOW = 11
GOPRO_STRIDE = 6


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------
def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists():
        os.symlink(src.resolve(), dst)


def prepare_data(
    data_root: Path, work: Path, synthetic_count: int, seed: int = 0
) -> tuple[Path, dict[str, Path]]:
    """Training and held-out folders under ``work`` (made once; existing pairs are kept).

    Returns:
        The training data root and the held-out pair folders (``synthetic_test``, and ``gopro_test``
        when GoPro frames exist).

    Raises:
        FileNotFoundError: ``data_root/bsds500/{train,val}`` is missing.
    """
    from blurkit.io import list_images
    from blurkit.synth import average_frames, make_dataset

    bsds = data_root / "bsds500"
    for sub in ("train", "val"):
        if not (bsds / sub).is_dir():
            raise FileNotFoundError(f"{bsds / sub}: BSDS500 photos needed for training and the synthetic test")
    root = work / "data"
    _link(bsds, root / "bsds500")
    synthetic = work / "synthetic_test"
    if not (synthetic / "manifest.csv").is_file():
        make_dataset(bsds / "val", synthetic, seed=seed, preset="realistic", limit=synthetic_count, progress=False)

    frames_root = data_root / "gopro_frames"
    tests = {"synthetic_test": synthetic}
    if frames_root.is_dir():
        split = {"train": work / "frames_train", "test": work / "frames_test"}
        for seq in sorted(p for p in frames_root.iterdir() if p.is_dir()):
            frames = list_images(seq)
            cut = int(len(frames) * GOPRO_TRAIN_FRACTION)
            for part, chosen in (("train", frames[:cut]), ("test", frames[cut:])):
                for f in chosen:
                    _link(f, split[part] / seq.name / f.name)
        for part, out in (("train", root / "gopro_pairs"), ("test", work / "gopro_test")):
            if split[part].is_dir() and not (out / "manifest.csv").is_file():
                average_frames(split[part], out, window=GOPRO_WINDOW, stride=GOPRO_STRIDE, seed=seed, progress=False)
        tests["gopro_test"] = work / "gopro_test"
    else:
        # the small configs list a gopro source: without frames, train on synthetic pairs only
        (root / "gopro_pairs").mkdir(parents=True, exist_ok=True)
    return root, tests


# --------------------------------------------------------------------------------------------------
# Models: training and cost
# --------------------------------------------------------------------------------------------------
def comparable_models() -> tuple[str, ...]:
    """The registered families that say how to compare them (``ModelFamily.comparison``), in
    registration order.

    >>> comparable_models()
    ('deblurgan', 'deblurganv2', 'svrnn')
    """
    return tuple(name for name in family_names() if get_family(name).comparison is not None)


def comparison_of(name: str) -> tuple[ModelFamily, Comparison]:
    """A compared family and its :class:`~models.training.families.Comparison`.

    Raises:
        ValueError: ``name`` is no family, or one that is not compared.
    """
    family = get_family(name)
    if family.comparison is None:
        raise ValueError(f"{name}: this model family is not compared (no comparison in its registration)")
    return family, family.comparison


def cost_rows(name: str) -> list[tuple[str, str, Mapping[str, Any]]]:
    """``(key, label, generator changes)`` of every architecture costed for a family: its own, then
    its variants (``deblurganv2_dsc``: DeblurGAN-v2 with depthwise-separable convolutions)."""
    family, comparison = comparison_of(name)
    return [(name, family.label, {}), *((f"{name}_{v.name}", v.label, v.generator) for v in comparison.variants)]


def labels() -> dict[str, str]:
    """Row names by key: the compared families and the variants costed beside them."""
    return {key: label for name in comparable_models() for key, label, _ in cost_rows(name)}


def small_config(name: str, steps: int, settings: Sequence[str] = ()) -> Any:
    """The family's small config (``models/configs/NAME_small.toml``) with ``settings``
    (``section.key=value``) applied and stretched to ``steps`` training steps: learning-rate decay
    from half way, validation and a checkpoint at the end, and a content-only warm-up (DeblurGAN's
    ``[loss] content_warmup``) kept at the same share of the run unless ``settings`` set it.

    >>> c = small_config("deblurgan", 3000)
    >>> c.optim.steps, c.optim.decay_start, c.loss.content_warmup, c.raw["optim"]["steps"]
    (3000, 1500, 1020, 3000)

    Raises:
        ValueError: a setting is malformed, unknown to the config, or sets ``optim.steps``.
    """
    from models.training.config import load_config

    path = comparison_of(name)[1].small_config
    keys = {".".join(parse_setting(item, depth=2)[0]) for item in settings}
    if "optim.steps" in keys:
        raise ValueError(f"{name}: optim.steps is set by --steps (the same budget for every model)")
    base = load_config(path, settings)
    budget = [f"optim.steps={steps}", f"optim.decay_start={steps // 2}", f"train.val_every={steps}",
              f"train.ckpt_every={steps}", f"train.log_every={max(1, steps // 20)}"]
    warmup = getattr(base.loss, "content_warmup", 0)
    if warmup and "loss.content_warmup" not in keys:
        budget.append(f"loss.content_warmup={min(steps, round(warmup * steps / base.optim.steps))}")
    return load_config(path, [*settings, *budget])


def parse_settings(items: Sequence[str], models: Sequence[str]) -> dict[str, list[str]]:
    """``MODEL.section.key=value`` items (:mod:`blurkit.overrides`, three key parts) → per-model
    ``section.key=value`` lists.

    >>> parse_settings(["svrnn.optim.lr=5e-4"], ("deblurgan", "svrnn"))
    {'deblurgan': [], 'svrnn': ['optim.lr=5e-4']}

    Raises:
        ValueError: an item is not ``MODEL.SECTION.KEY=VALUE`` with a model of ``models``.
    """
    out: dict[str, list[str]] = {m: [] for m in models}
    for item in items:
        (name, _, _), _ = parse_setting(item, depth=3)
        if name not in out:
            raise ValueError(
                f"--set {item!r}: expected MODEL.SECTION.KEY=VALUE with MODEL one of {', '.join(models)}"
            )
        out[name].append(item.partition(".")[2])
    return out


def train_small(
    name: str, steps: int, data_root: Path, out: Path, device: str, vgg_weights: str | None, retrain: bool,
    settings: Sequence[str] = (),
) -> dict[str, Any]:
    """Train ``models/configs/NAME_small.toml`` (with ``settings``) for ``steps`` steps; a finished
    run in ``out/NAME`` made with the same config is reused."""
    import shutil

    import torch

    from models.training.loop import train

    cfg = small_config(name, steps, settings)
    sources = cfg.data.sources
    if not any((data_root / "gopro_pairs").glob("**/*.png")):
        sources = tuple(s for s in sources if s.kind != "gopro")
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, sources=sources))
    run = out / name
    ckpt = run / "checkpoint.pt"
    if not retrain and ckpt.is_file() and (run / "generator.pt").is_file():
        done = torch.load(ckpt, map_location="cpu", weights_only=True)
        if int(done["step"]) == steps and done.get("config") == dict(cfg.raw):
            return {"run": run, "train_seconds": None, "reused": True}
    if run.exists() and any(run.iterdir()):
        if not retrain:
            raise FileExistsError(f"{run}: holds a run of another config or length (or an unfinished one); "
                                  "pass --retrain to replace it or choose another --out")
        shutil.rmtree(run)
    t0 = time.perf_counter()
    train(cfg, run, device=device, vgg_weights=vgg_weights, data_root=data_root, progress=False)
    return {"run": run, "train_seconds": time.perf_counter() - t0, "reused": False}


def paper_size_checkpoint(name: str, folder: Path, key: str = "", generator: Mapping[str, Any] | None = None) -> Path:
    """An untrained checkpoint of the family's paper-size architecture (for cost only), with
    ``[generator]`` values ``generator`` changed; written as ``folder/KEY_paper_size.pt``."""
    import torch

    from models.training.config import load_config

    family, comparison = comparison_of(name)
    cfg = load_config(comparison.paper_config)
    path = folder / f"{key or name}_paper_size.pt"
    torch.manual_seed(0)
    net = family.network.build or family.network.module
    family.network.save(net(dataclasses.replace(cfg.generator, **(generator or {}))), path, half=False)
    return path


def small_params(run: Path) -> float:
    """Parameters (millions) of the trained generator in ``run``."""
    from models.base import load_deblurrer

    module = find_module(load_deblurrer(str(run / "generator.pt")))
    return sum(p.numel() for p in module.parameters()) / 1e6 if module is not None else float("nan")


# --------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------
def run_comparison(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Train, score and cost ``args.models``; returns the table rows and what else the JSON keeps."""
    import torch

    out: Path = args.out
    root, test_sets = prepare_data(args.data_root, out, args.synthetic_count)
    vgg = args.vgg_weights
    default_vgg = args.data_root / "vgg" / "vgg16_imagenet_features_fp16.pth"
    if vgg is None and default_vgg.is_file():
        vgg = str(default_vgg)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.cpu_only else [])
    arch = out / "paper_size"
    arch.mkdir(parents=True, exist_ok=True)
    models = args.models
    settings = parse_settings(args.set, models)
    for name in models:  # bad settings fail before any training
        small_config(name, args.steps, settings[name])
    trained: dict[str, dict[str, Any]] = {}
    for name in models:
        extra = f" with {', '.join(settings[name])}" if settings[name] else ""
        small = comparison_of(name)[1].small_config.name
        print(f"[{name}] training {args.steps} steps of {small}{extra}", file=sys.stderr)
        trained[name] = train_small(
            name, args.steps, root, out / "runs", args.device, vgg, args.retrain, settings[name]
        )
    scores: dict[str, dict[str, dict[str, Any]]] = {}
    specs = ["identity"] + [str(trained[n]["run"] / "generator.pt") for n in models]
    for label, folder in test_sets.items():
        print(f"scoring on {label} ({folder})", file=sys.stderr)
        _, summary = compare(folder, specs, args.device)
        scores[label] = {s["deblurrer"]: s for s in summary}
    rows: list[dict[str, Any]] = [
        {"model": "blurred input (identity)", **_score_columns(scores, test_sets, "identity")}
    ]
    variants: list[dict[str, Any]] = []
    for name in models:
        (_, label, _), *others = cost_rows(name)
        row: dict[str, Any] = {"model": label, **_cost_columns(args, name, name, {}, arch, devices)}
        row["params M (small, trained)"] = small_params(trained[name]["run"])
        row["train steps"] = args.steps
        row["train s"] = trained[name]["train_seconds"]
        row.update(_score_columns(scores, test_sets, str(trained[name]["run"] / "generator.pt")))
        if settings[name]:
            row["settings"] = " ".join(settings[name])
        row["published GoPro PSNR / SSIM"] = comparison_of(name)[1].published
        rows.append(row)
        # lighter variants of the architecture: cost only (not trained here), after the trained rows
        variants += [
            {"model": vlabel, **_cost_columns(args, name, key, changes, arch, devices)}
            for key, vlabel, changes in others
        ]
    return rows + variants, {"scores": scores, "devices": devices, "settings": settings}


def _score_columns(
    scores: Mapping[str, Mapping[str, Mapping[str, Any]]], test_sets: Mapping[str, Path], spec: str
) -> dict[str, str]:
    """``"PSNR / SSIM (pairs)"`` of ``spec`` on every test set (empty where it was not scored)."""
    out = {}
    for label in test_sets:
        s = scores.get(label, {}).get(spec)
        out[f"{label} PSNR / SSIM (pairs)"] = (
            "" if s is None else f"{s['psnr']:.2f} / {s['ssim_skimage']:.3f} ({s['pairs']})"
        )
    return out


def _cost_columns(
    args: argparse.Namespace, name: str, key: str, generator: Mapping[str, Any], arch: Path, devices: Sequence[str]
) -> dict[str, Any]:
    """Parameters, MACs and latency on each device of an untrained paper-size network."""
    ckpt = paper_size_checkpoint(name, arch, key, generator)
    cols: dict[str, Any] = {}
    for dev in devices:
        print(f"[{key}] cost on {dev}", file=sys.stderr)
        cost = measure_runtime(str(ckpt), dev, args.height, args.width, args.repeats, args.warmup)
        cols["params M (paper size)"] = cost["params_M"]
        cols[f"GMACs {args.width}x{args.height}"] = cost["gmacs"]
        cols[f"{dev} ms {args.width}x{args.height}"] = cost["ms_per_image"]
    return cols


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks.model_compare`` (see the module docstring)."""
    models = comparable_models()
    ap = argparse.ArgumentParser(prog="python -m benchmarks.model_compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", type=Path, default=Path("../shared/data"), help="bsds500/ and gopro_frames/")
    ap.add_argument("--vgg-weights", default=None, help="VGG16 features state dict for the perceptual losses "
                    "(default DATA/vgg/vgg16_imagenet_features_fp16.pth)")
    ap.add_argument("--steps", type=int, default=300, help="training steps of every model (same budget)")
    ap.add_argument("--synthetic-count", type=int, default=20, help="held-out synthetic pairs")
    ap.add_argument("--device", default="cpu", help="training and scoring device")
    ap.add_argument("--repeats", type=int, default=3, help="timed 1280×720 calls per model and device")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--height", type=int, default=720, help="image height of the cost measurement")
    ap.add_argument("--width", type=int, default=1280, help="image width of the cost measurement")
    ap.add_argument("--cpu-only", action="store_true", help="no CUDA latency even when available")
    ap.add_argument("--retrain", action="store_true", help="delete and redo the runs in OUT/runs (else reused when the same)")
    ap.add_argument("--models", type=lambda v: tuple(m.strip() for m in v.split(",") if m.strip()), default=models,
                    help=f"comma-separated subset of {','.join(models)} (default: all)")
    ap.add_argument("--set", action="append", default=[], metavar="MODEL.SECTION.KEY=VALUE",
                    help="change one value of a model's small config (TOML syntax), e.g. svrnn.optim.lr=5e-4; repeatable")
    ap.add_argument("--out", type=Path, default=Path("runs/model_compare"))
    return ap


def run(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the comparison, print and write the table."""
    args = build_parser().parse_args(argv)
    known = comparable_models()
    unknown = sorted(set(args.models) - set(known)) or ([] if args.models else ["(none given)"])
    if unknown:
        raise UsageError(f"--models: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    if args.steps < 1:
        raise UsageError(f"--steps must be >= 1, got {args.steps}")
    meta = metadata(args.device)  # the commit and versions the run starts with
    rows, extra = run_comparison(args)
    columns: list[str] = []
    for r in rows[1:] + rows[:1]:  # model rows first: their column order
        columns += [c for c in r if c not in columns]
    table = markdown_table(rows, columns)
    note = (
        f"Measured: `{args.steps}` steps of `models.train` per model with `models/configs/*_small.toml` "
        f"(CPU-sized networks, 64 px crops, batch 2) on BSDS500 train blurred on the fly + GoPro-style pairs; "
        f"cost columns: paper-size architectures, untrained, {args.width}×{args.height}, batch 1. Published: full-size models "
        "trained on the GoPro training set, scored on the GoPro test set — a different budget and different "
        "data, shown for reference only."
    )
    print(f"{table}\n\n{note}")
    atomic_write_bytes(args.out / "summary.md", (table + "\n\n" + note + "\n").encode())
    write_json(args.out / "summary.json", {"metadata": meta, "steps": args.steps, "rows": rows, **extra})
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: errors (bad settings, missing data, a run in the way) give 2."""
    return run_main(run, argv, errors=(ValueError, OSError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
