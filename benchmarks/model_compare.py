"""DeblurGAN, DeblurGAN-v2 and the spatially variant RNN side by side: cost and quality.

    python -m benchmarks.model_compare --data-root ../shared/data \
        --vgg-weights ../shared/data/vgg/vgg16_imagenet_features_fp16.pth --steps 300 --out runs/model_compare

Cost (``benchmarks.runtime``): parameters, MACs (``FlopCounterMode``: convolutions and matmuls only,
so the RNN's elementwise scans are not counted) and median latency of one 1280×720 image, on the CPU
and on CUDA when available, for each architecture at its paper-like size (``models/configs/NAME.toml``,
untrained weights: latency does not depend on them).

Quality: each model's ``models/configs/NAME_small.toml`` (CPU-sized networks, 64-pixel crops, each
with its own short-budget loss and learning rate) is trained by ``models.train`` for the SAME number
of steps (``--steps``; learning-rate decay from half way, DeblurGAN's content-only warm-up kept at
its share of the config's steps) on the same data, then scored with ``benchmarks.compare`` (PSNR
RGB, SSIM ``skimage``) on two held-out pair folders made here:

* ``synthetic_test``: ``blurkit make`` (preset ``realistic``) on BSDS500 ``val`` photos (training
  uses ``train``);
* ``gopro_test``: ``blurkit average`` (11 frames, linear light, a slot every 6 frames) on the last
  30 % of each GoPro frame sequence; training uses pairs averaged from the first 70 % (``gopro_pairs``).

``--models`` picks a subset and ``--set MODEL.SECTION.KEY=VALUE`` changes one value of a small
config (the row lists the changes). A finished run under ``OUT/runs/NAME`` is reused only when its
recorded config is the one asked for; any other run there is an error unless ``--retrain``.

Published GoPro numbers (full-size models trained for days on the GoPro training set) are printed
beside the measured ones; the budgets and data differ, so only the ranking within a column compares.
Needs ``DATA/bsds500/{train,val}`` and, for the GoPro-style part, ``DATA/gopro_frames/<sequence>/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._common import markdown_table, metadata, write_json
from benchmarks.compare import compare
from benchmarks.runtime import count_macs, find_module, measure_runtime

REPO = Path(__file__).resolve().parents[1]
MODELS = ("deblurgan", "deblurganv2", "svrnn")
LABELS = {
    "deblurgan": "DeblurGAN (Kupyn et al. 2018)",
    "deblurganv2": "DeblurGAN-v2 MobileNet (Kupyn et al. 2019)",
    "svrnn": "Spatially variant RNN (Zhang et al. 2018)",
    "deblurganv2_dsc": "DeblurGAN-v2 MobileNet-DSC (cost only)",
}
#: Published GoPro test PSNR / SSIM (DESIGN.md §4); DeblurGAN's 0.958 is CW-SSIM (0.927 plain SSIM).
PUBLISHED = {
    "deblurgan": "28.7 / 0.958 (CW-SSIM)",
    "deblurganv2": "28.17 / 0.925",
    "svrnn": "29.19 / 0.931",
}
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
            raise FileNotFoundError(
                f"{bsds / sub}: BSDS500 photos needed for training and the synthetic test"
            )
    root = work / "data"
    _link(bsds, root / "bsds500")
    synthetic = work / "synthetic_test"
    if not (synthetic / "manifest.csv").is_file():
        make_dataset(
            bsds / "val", synthetic, seed=seed, preset="realistic", limit=synthetic_count, progress=False
        )

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
                average_frames(
                    split[part], out, window=GOPRO_WINDOW, stride=GOPRO_STRIDE, seed=seed, progress=False
                )
        tests["gopro_test"] = work / "gopro_test"
    else:
        # the small configs list a gopro source: without frames, train on synthetic pairs only
        (root / "gopro_pairs").mkdir(parents=True, exist_ok=True)
    return root, tests


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------
def small_config(name: str, steps: int, settings: Sequence[str] = ()) -> Any:
    """``models/configs/NAME_small.toml`` with ``settings`` (``section.key=value``) applied and
    stretched to ``steps`` training steps: learning-rate decay from half way, validation and a
    checkpoint at the end, and a content-only warm-up (DeblurGAN's ``[loss] content_warmup``) kept
    at the same share of the run unless ``settings`` set it.

    >>> c = small_config("deblurgan", 3000)
    >>> c.optim.steps, c.optim.decay_start, c.loss.content_warmup, c.raw["optim"]["steps"]
    (3000, 1500, 1020, 3000)

    Raises:
        ValueError: a setting is malformed, unknown to the config, or sets ``optim.steps``.
    """
    from models.train import load_config

    path = REPO / "models" / "configs" / f"{name}_small.toml"
    keys = {item.partition("=")[0].strip() for item in settings}
    if "optim.steps" in keys:
        raise ValueError(f"{name}: optim.steps is set by --steps (the same budget for every model)")
    base = load_config(path, settings)
    budget = [
        f"optim.steps={steps}",
        f"optim.decay_start={steps // 2}",
        f"train.val_every={steps}",
        f"train.ckpt_every={steps}",
        f"train.log_every={max(1, steps // 20)}",
    ]
    warmup = getattr(base.loss, "content_warmup", 0)
    if warmup and "loss.content_warmup" not in keys:
        budget.append(f"loss.content_warmup={min(steps, round(warmup * steps / base.optim.steps))}")
    return load_config(path, [*settings, *budget])


def parse_settings(items: Sequence[str], models: Sequence[str]) -> dict[str, list[str]]:
    """``MODEL.section.key=value`` items → per-model ``section.key=value`` lists.

    >>> parse_settings(["svrnn.optim.lr=5e-4"], MODELS)
    {'deblurgan': [], 'deblurganv2': [], 'svrnn': ['optim.lr=5e-4']}
    """
    out: dict[str, list[str]] = {m: [] for m in models}
    for item in items:
        name, dot, rest = item.partition(".")
        if not dot or name not in out:
            raise ValueError(
                f"--set {item!r}: expected MODEL.SECTION.KEY=VALUE with MODEL one of {', '.join(models)}"
            )
        out[name].append(rest)
    return out


def train_small(
    name: str,
    steps: int,
    data_root: Path,
    out: Path,
    device: str,
    vgg_weights: str | None,
    retrain: bool,
    settings: Sequence[str] = (),
) -> dict[str, Any]:
    """Train ``models/configs/NAME_small.toml`` (with ``settings``) for ``steps`` steps; a finished
    run in ``out/NAME`` made with the same config is reused."""
    import shutil

    import torch

    from models.train import train

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
            raise FileExistsError(
                f"{run}: holds a run of another config or length (or an unfinished one); "
                "pass --retrain to replace it or choose another --out"
            )
        shutil.rmtree(run)
    t0 = time.perf_counter()
    train(cfg, run, device=device, vgg_weights=vgg_weights, data_root=data_root, progress=False)
    return {"run": run, "train_seconds": time.perf_counter() - t0, "reused": False}


# --------------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------------
def paper_size_checkpoint(name: str, folder: Path) -> Path:
    """An untrained checkpoint of ``models/configs/NAME.toml``'s architecture (for cost only);
    ``deblurganv2_dsc`` is DeblurGAN-v2's config with depthwise-separable convolutions."""
    import torch

    from models import deblurgan, deblurganv2, svrnn
    from models.train import load_config

    dsc = name == "deblurganv2_dsc"
    cfg = load_config(REPO / "models" / "configs" / f"{name.removesuffix('_dsc')}.toml")
    path = folder / f"{name}_paper_size.pt"
    torch.manual_seed(0)
    if name == "deblurgan":
        deblurgan.save_generator(deblurgan.Generator(cfg.generator), path, half=False)
    elif name.startswith("deblurganv2"):
        gen_cfg = dataclasses.replace(cfg.generator, pretrained=False, dsc=dsc)
        deblurganv2.save_generator(deblurganv2.FPNMobileNet(gen_cfg), path, half=False)
    else:
        svrnn.save_generator(svrnn.SVRNN(cfg.generator), path, half=False)
    return path


def measure_cost(
    spec: str, device: str, height: int, width: int, repeats: int, warmup: int
) -> dict[str, Any]:
    """``benchmarks.runtime.measure_runtime`` plus parameters/MACs of wrappers that keep the network
    at ``generator`` (DeblurGAN) rather than ``net``/``module``."""
    import torch

    from models.base import load_deblurrer

    row = measure_runtime(spec, device, height, width, repeats, warmup)
    if row["params_M"] is None:
        model = load_deblurrer(spec, device=device)
        module = find_module(getattr(model, "generator", None))
        if module is not None:
            x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)).to(device)
            row["params_M"] = sum(p.numel() for p in module.parameters()) / 1e6
            row["gmacs"] = count_macs(model, x) / 1e9
    return row


def small_params(run: Path) -> float:
    """Parameters (millions) of the trained generator in ``run``."""
    from models.base import load_deblurrer

    model = load_deblurrer(str(run / "generator.pt"))
    module = find_module(model) or find_module(getattr(model, "generator", None))
    return sum(p.numel() for p in module.parameters()) / 1e6 if module is not None else float("nan")


# --------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------
def run_comparison(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    import torch

    out: Path = args.out
    root, test_sets = prepare_data(args.data_root, out, args.synthetic_count)
    vgg = args.vgg_weights
    default_vgg = args.data_root / "vgg" / "vgg16_imagenet_features_fp16.pth"
    if vgg is None and default_vgg.is_file():
        vgg = str(default_vgg)
    rows: list[dict[str, Any]] = []
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
        print(f"[{name}] training {args.steps} steps of {name}_small.toml{extra}", file=sys.stderr)
        trained[name] = train_small(
            name, args.steps, root, out / "runs", args.device, vgg, args.retrain, settings[name]
        )
    scores: dict[str, dict[str, dict[str, Any]]] = {}
    specs = ["identity"] + [str(trained[n]["run"] / "generator.pt") for n in models]
    for label, folder in test_sets.items():
        print(f"scoring on {label} ({folder})", file=sys.stderr)
        _, summary = compare(folder, specs, args.device)
        scores[label] = {s["deblurrer"]: s for s in summary}

    def score(label: str, spec: str) -> str:
        s = scores.get(label, {}).get(spec)
        return "" if s is None else f"{s['psnr']:.2f} / {s['ssim_skimage']:.3f} ({s['pairs']})"

    rows.append(
        {
            "model": "blurred input (identity)",
            **{f"{k} PSNR / SSIM (pairs)": score(k, "identity") for k in test_sets},
        }
    )

    def cost_columns(name: str) -> dict[str, Any]:
        ckpt = paper_size_checkpoint(name, arch)
        cols: dict[str, Any] = {}
        for dev in devices:
            print(f"[{name}] cost on {dev}", file=sys.stderr)
            cost = measure_cost(str(ckpt), dev, args.height, args.width, args.repeats, args.warmup)
            cols["params M (paper size)"] = cost["params_M"]
            cols[f"GMACs {args.width}x{args.height}"] = cost["gmacs"]
            cols[f"{dev} ms {args.width}x{args.height}"] = cost["ms_per_image"]
        return cols

    for name in models:
        spec = str(trained[name]["run"] / "generator.pt")
        row: dict[str, Any] = {"model": LABELS[name], **cost_columns(name)}
        row["params M (small, trained)"] = small_params(trained[name]["run"])
        row["train steps"] = args.steps
        row["train s"] = trained[name]["train_seconds"]
        for label in test_sets:
            row[f"{label} PSNR / SSIM (pairs)"] = score(label, spec)
        if settings[name]:
            row["settings"] = " ".join(settings[name])
        row["published GoPro PSNR / SSIM"] = PUBLISHED[name]
        rows.append(row)
    if "deblurganv2" in models:  # the paper's lighter variant: cost only (not trained here)
        rows.append({"model": LABELS["deblurganv2_dsc"], **cost_columns("deblurganv2_dsc")})
    return rows, {"scores": scores, "devices": devices, "settings": settings}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.model_compare", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument(
        "--data-root", type=Path, default=Path("../shared/data"), help="bsds500/ and gopro_frames/"
    )
    ap.add_argument(
        "--vgg-weights",
        default=None,
        help="VGG16 features state dict for the perceptual losses (default DATA/vgg/vgg16_imagenet_features_fp16.pth)",
    )
    ap.add_argument("--steps", type=int, default=300, help="training steps of every model (same budget)")
    ap.add_argument("--synthetic-count", type=int, default=20, help="held-out synthetic pairs")
    ap.add_argument("--device", default="cpu", help="training and scoring device")
    ap.add_argument("--repeats", type=int, default=3, help="timed 1280×720 calls per model and device")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--height", type=int, default=720, help="image height of the cost measurement")
    ap.add_argument("--width", type=int, default=1280, help="image width of the cost measurement")
    ap.add_argument("--cpu-only", action="store_true", help="no CUDA latency even when available")
    ap.add_argument(
        "--retrain", action="store_true", help="delete and redo the runs in OUT/runs (else reused when the same)"
    )
    ap.add_argument(
        "--models",
        type=lambda v: tuple(m.strip() for m in v.split(",") if m.strip()),
        default=MODELS,
        help=f"comma-separated subset of {','.join(MODELS)} (default: all three)",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="MODEL.SECTION.KEY=VALUE",
        help="change one value of a model's small config (TOML syntax), e.g. svrnn.optim.lr=5e-4; repeatable",
    )
    ap.add_argument("--out", type=Path, default=Path("runs/model_compare"))
    args = ap.parse_args(argv)
    unknown = sorted(set(args.models) - set(MODELS)) or ([] if args.models else ["(none given)"])
    if unknown:
        print(f"error: --models: unknown {', '.join(unknown)}; choose from {', '.join(MODELS)}", file=sys.stderr)
        return 2
    if args.steps < 1:
        print(f"error: --steps must be >= 1, got {args.steps}", file=sys.stderr)
        return 2
    meta = metadata(args.device)  # the commit and versions the run starts with
    try:
        rows, extra = run_comparison(args)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
    print(table)
    print()
    print(note)
    from blurkit.io import atomic_write_bytes

    atomic_write_bytes(args.out / "summary.md", (table + "\n\n" + note + "\n").encode())
    write_json(
        args.out / "summary.json",
        {"metadata": meta, "steps": args.steps, "rows": rows, **extra},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
