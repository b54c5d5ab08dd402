"""Does synthetic blur transfer to real blur? ``python -m benchmarks.sim2real``.

One fixed network (``--config``, by default the small NAFNet of ``models/configs/nafnet_cpu.toml``)
is trained for the same number of steps on each *data recipe*, and every resulting model is scored,
beside ``identity`` (the blurred input itself), on **real** blurry/sharp pairs. Recipes
(:data:`RECIPES`):

* each blurkit preset (``realistic``, ``realistic_jpeg``, ``video``, ``deblurgan``, ``line``);
* the ``realistic`` chain with one step turned off in turn — linear light (blur of display values),
  highlight boost, sensor noise — an ablation; JPEG's effect is ``realistic_jpeg`` against
  ``realistic``;
* ``albumentations``: the peer a user would pick instead, albumentations' ``MotionBlur`` (straight
  lines, kernel sizes 7–61 px like blurkit's 8–60 px lengths, its own off-centre shifts), applied to
  the same photos ahead of time (``--albu-variants`` blurred copies of each);
* ``real``: real frame averages from frames disjoint from the evaluation frames (the upper
  reference: what training on the target domain gives).

Beside ``identity`` (the blurred input) every table has the ceiling row ``oracle_linear``
(:func:`benchmarks.linear_oracle.local_linear_oracle`; ``--no-oracle`` leaves it out): each 160 px tile of a real pair restored
by the 15×15 linear filter that least-squares fits it to its own sharp frame. No deblurrer can know
that filter; its gain says how much of the error a shift-variant linear deconvolution could remove at
all (camera noise, the sharp frame's own position inside the exposure, and occlusions are not
linear in the blurred image). ``--models A.pt,B.pt`` scores given deblurrers the same way instead of
training recipes.

Synthetic recipes blur ``bsds500/train`` of ``--data-root`` on the fly. The real pairs
(``--real DIR``: GoPro layout or ``blur/`` + ``sharp/``) default to ``blurkit average`` of the
second half of ``gopro_frames/GOPR0477_11_00`` (frames 61–120, windows 7, 13, 21 and 31, no
overlap); the ``real`` recipe then trains on averages of frames 1–60 (same windows, stride 3), or on
``--real-train DIR`` when ``--real`` is given (without it, the recipe is left out).

Scores per model: PSNR and SSIM (``skimage`` variant) against the sharp frame, the gain over the
input, mean colour shift (restored − sharp, 8-bit grey levels), and sharpness as the ratio of the
Laplacian variance to the sharp frame's (the input's ratio is the identity row). Output in ``--out``:
``sim2real.md`` (table), ``sim2real.json`` (everything, with metadata), ``sim2real_bars.png`` (gain
per recipe and window) and ``sim2real_crops.png`` (one real pair restored by every recipe's model).
A recipe's run folder is reused when its settings match (``--retrain`` trains again).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomllib

from benchmarks._common import markdown_table, metadata, write_json
from benchmarks._pairs import write_text
from benchmarks.linear_oracle import ORACLE_SIZE, ORACLE_TILE, local_linear_oracle
from blurkit.scripting import UsageError, run_main

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "models" / "configs" / "nafnet_cpu.toml"
WINDOWS = (7, 13, 21, 31)
FRAMES = "gopro_frames/GOPR0477_11_00"
SPLIT = 60  # frames 1..SPLIT train the real recipe; the rest are averaged into evaluation pairs
CACHE_MB = 1500  # decoded training images kept in memory: the real recipe's frames are decoded once
ORACLE = "oracle_linear"  # the reference row of :func:`local_linear_oracle` (fitted with the sharp frame)


@dataclass(frozen=True)
class Recipe:
    """One way of making training pairs: a blurkit preset with changed fields, or a prepared source."""

    name: str
    description: str
    preset: str = "realistic"
    blur: dict[str, Any] = field(default_factory=dict)
    source: str = "on_the_fly"  # or "albumentations", "real"
    scale: tuple[float, float] | None = None  # on_the_fly only: enlarge each photo by a factor drawn here first


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("realistic", "blurkit realistic: linear light, highlight boost, noise"),
        Recipe("realistic_jpeg", "realistic + JPEG 60-95", "realistic_jpeg"),
        Recipe("video", "blurkit video: realistic without added noise", "video"),
        Recipe("video_local", "video, half the pairs blurred in one region only", "video", {"local": 0.5}),
        Recipe("video_local_0", "video_local with lengths 0-60 px", "video", {"local": 0.5, "length": [0.0, 60.0]}),
        Recipe("video_zoom", "video_local_0, photos enlarged 1.5-4x first (the shipped NAFNet's recipe)", "video",
               {"local": 0.5, "length": [0.0, 60.0]}, scale=(1.5, 4.0)),
        Recipe("no_linear_light", "realistic, blur of display values", blur={"response": "linear"}),
        Recipe("no_highlight_boost", "realistic without highlight boost", blur={"boost": 1.0}),
        Recipe("no_noise", "realistic without sensor noise (= video)", blur={"shot": 0.0, "read": 0.0}),
        Recipe("deblurgan", "DeblurGAN's recipe (length 60, display values)", "deblurgan"),
        Recipe("line", "blurkit straight lines 5-40 px", "line"),
        Recipe("albumentations", "albumentations MotionBlur 7-61 px", source="albumentations"),
        Recipe("real", "real frame averages (disjoint frames)", source="real"),
    )
}
#: The default study: every recipe except the duplicate ``no_noise`` (the ``video`` preset) and the
#: ``local`` and enlarged variants (``--recipes`` adds them).
DEFAULT_RECIPES = tuple(n for n in RECIPES if n not in ("no_noise", "video_local", "video_local_0", "video_zoom"))


def _copy_frames(dst: Path, frames: Sequence[Path]) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in frames:
        target = dst / f.name
        if not target.exists():
            shutil.copyfile(f, target)
    return dst


def prepare_real(data_root: Path, work: Path) -> tuple[Path, Path]:
    """Evaluation pairs (frames after :data:`SPLIT`) and real training pairs (frames up to it)."""
    from blurkit.synth import average_frames

    frames_dir = data_root / FRAMES
    frames = sorted(p for p in frames_dir.glob("*.png"))
    if len(frames) <= SPLIT + max(WINDOWS):
        raise FileNotFoundError(f"{frames_dir}: needs more than {SPLIT + max(WINDOWS)} frames, found {len(frames)}")
    split = {"train": frames[:SPLIT], "eval": frames[SPLIT:]}
    out = {}
    for part, fs in split.items():
        seq = _copy_frames(work / "frames" / part / frames_dir.name, fs)
        root = work / f"real_{part}"
        for w in WINDOWS:
            dest = root / f"w{w:02d}"
            if not (dest / "manifest.csv").is_file():
                average_frames(seq.parent, dest, window=w, stride=3 if part == "train" else None, progress=False)
        out[part] = root
    return out["eval"], out["train"]


def albumentations_pairs(sharp_dir: Path, out: Path, variants: int, seed: int = 0) -> Path:
    """``variants`` copies of every photo of ``sharp_dir`` blurred by albumentations' ``MotionBlur``."""
    import albumentations as A
    import cv2

    from blurkit.io import list_images

    if (out / "done.json").is_file():
        return out
    (out / "blur").mkdir(parents=True, exist_ok=True)
    (out / "sharp").mkdir(parents=True, exist_ok=True)
    aug = A.Compose([A.MotionBlur(blur_limit=(7, 61), p=1.0)], seed=seed)
    for p in list_images(sharp_dir):
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"{p}: cannot be decoded")
        for v in range(variants):
            name = f"{p.stem}_{v}.png"
            cv2.imwrite(str(out / "sharp" / name), img)
            cv2.imwrite(str(out / "blur" / name), aug(image=img)["image"])
    (out / "done.json").write_text(json.dumps({"variants": variants, "seed": seed}))
    return out


def recipe_config(
    base: dict[str, Any], recipe: Recipe, steps: int, sources: list[dict[str, Any]]
) -> dict[str, Any]:
    """The training configuration of one recipe: ``base`` with its data and a ``steps`` schedule."""
    raw = json.loads(json.dumps(base))
    raw["data"].update({"blur_preset": recipe.preset, "blur": dict(recipe.blur), "sources": sources,
                        "cache_mb": CACHE_MB})
    raw["optim"].update({"steps": steps, "decay_start": steps // 3})
    raw["train"].update({"log_every": max(1, steps // 10), "val_every": steps, "ckpt_every": steps})
    return raw


def train_recipe(
    raw: dict[str, Any], run: Path, data_root: Path, retrain: bool, device: str, what: str = ""
) -> Path:
    """Train one recipe into ``run`` (reused when its recorded config matches) → its generator file.
    ``what`` (the recipe's description) goes into the one line said on stderr about it."""
    from models.training.config import config_from_dict
    from models.training.loop import train

    record = run / "recipe_config.json"
    gen = run / "generator.pt"
    if run.exists():
        same = record.is_file() and json.loads(record.read_text()) == raw
        if same and gen.is_file() and not retrain:
            print(f"[{run.name}] reusing the trained run {run}", file=sys.stderr, flush=True)
            return gen
        if not retrain:
            raise FileExistsError(f"{run}: holds a run with other settings or an unfinished one; pass --retrain")
        shutil.rmtree(run)
    steps = raw["optim"]["steps"]
    print(f"[{run.name}] training {steps} steps: {what}", file=sys.stderr, flush=True)
    result = train(config_from_dict(raw), run, data_root=data_root, device=device, progress=False)
    if not result.finished:
        raise RuntimeError(f"{run}: training stopped before its last step")
    record.write_text(json.dumps(raw, indent=1))
    return gen


def group_pairs(root: Path) -> list[tuple[str, Path, Path]]:
    """(group, blurred, sharp) of the pairs under ``root``: a group per sub-folder holding pairs (a
    window size ``wNN`` or a GoPro scene), else one group named after ``root``."""
    from blurkit.synth.realism import list_pairs

    subs = sorted(p for p in root.iterdir() if p.is_dir() and p.name not in ("blur", "sharp")) if root.is_dir() else []
    groups = [s for s in subs if (s / "blur").is_dir() or any((t / "blur").is_dir() for t in s.iterdir() if t.is_dir())]
    if not groups or (root / "blur").is_dir():
        return [(root.name, b, s) for b, s in list_pairs(root)]
    return [(g.name, b, s) for g in groups for b, s in list_pairs(g)]


def _row(group: str, blurred_path: Path, out8: np.ndarray, sharp8: np.ndarray) -> dict[str, Any]:
    from blurkit.metrics import psnr, ssim
    from blurkit.synth.realism import laplacian_variance

    return {
        "pair": f"{group}/{blurred_path.name}",
        "window": group,
        "psnr": float(psnr(out8, sharp8)),
        "ssim": float(ssim(out8, sharp8, "skimage")),
        "shift": float(out8.astype(np.float64).mean() - sharp8.astype(np.float64).mean()),
        "sharpness": laplacian_variance(out8) / laplacian_variance(sharp8),
    }


def score(model: Any, pairs: Sequence[tuple[str, Path, Path]], keep: int | None = None) -> tuple[list[dict], Any]:
    """Per-pair scores of a deblurrer on real (group, blurred, sharp) pairs, and the restored image of
    pair ``keep``. ``model`` may be :data:`ORACLE`: :func:`local_linear_oracle` restores each pair."""
    import torch

    from blurkit.io import read_image, to_uint
    from blurkit.tensors import to_image, to_tensor

    rows, kept = [], None
    for i, (group, b, s) in enumerate(pairs):
        blurred = read_image(b)
        sharp = read_image(s)
        sharp8 = to_uint(sharp, 8)
        if isinstance(model, str) and model == ORACLE:
            y = np.clip(local_linear_oracle(blurred, sharp), 0.0, 1.0).astype(np.float32)
        else:
            x = to_tensor(blurred)[None]
            with torch.no_grad():
                y = to_image(model(x)[0])
        out8 = to_uint(y, 8)
        rows.append(_row(group, b, out8, sharp8))
        if i == keep:
            kept = out8
    return rows, kept


def summarize(rows: list[dict], identity: list[dict]) -> dict[str, Any]:
    """Means over pairs, the gain over the input overall and per window."""
    out: dict[str, Any] = {k: float(np.mean([r[k] for r in rows])) for k in ("psnr", "ssim", "shift", "sharpness")}
    out["gain"] = out["psnr"] - float(np.mean([r["psnr"] for r in identity]))
    for w in sorted({r["window"] for r in rows}):
        mine = [r["psnr"] for r in rows if r["window"] == w]
        base = [r["psnr"] for r in identity if r["window"] == w]
        out[f"gain_{w}"] = float(np.mean(mine) - np.mean(base))
    return out


def draw(results: dict[str, dict], crops: dict[str, Any], out: Path) -> None:
    """The bar chart of gains and the crop grid (atomic PNG writes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from blurkit.io import atomic_write_bytes, encode_image
    from blurkit.viz import save_figure

    names = [n for n in results if n != "identity"]
    windows = sorted(k for k in results["identity"] if k.startswith("gain_"))
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(names)), 4.5))
    width = 0.8 / (len(windows) + 1)
    xs = np.arange(len(names))
    ax.bar(xs, [results[n]["gain"] for n in names], width, label="all pairs", color="black")
    for j, w in enumerate(windows):
        ax.bar(xs + (j + 1) * width, [results[n][w] for n in names], width, label=w.replace("gain_", "window "))
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(xs + 0.4 - width / 2, [Path(n).name for n in names], rotation=30, ha="right")
    ax.set_ylabel("PSNR gain over the blurred input (dB)")
    ax.set_title("Scored on real blur pairs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "sim2real_bars.png")
    tiles = []
    for name, img in crops.items():
        h, w = img.shape[:2]
        c = img[h // 2 - 128 : h // 2 + 128, w // 2 - 192 : w // 2 + 192].copy()
        import cv2

        cv2.putText(c, Path(name).name, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 0), 2)
        tiles.append(c)
    cols = 4
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    grid = np.vstack([np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)])
    atomic_write_bytes(out / "sim2real_crops.png", encode_image(grid, ".png"))


def run_study(args: argparse.Namespace) -> dict[str, Any]:
    from blurkit.io import read_image, to_uint
    from models.base import load_deblurrer

    data_root, out = Path(args.data_root), Path(args.out)
    models = [m.strip() for m in (args.models or "").split(",") if m.strip()]
    names = [] if models else [n.strip() for n in args.recipes.split(",") if n.strip()]
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise ValueError(f"--recipes: unknown {unknown}; known: {', '.join(RECIPES)}")
    meta = metadata(args.device)
    base = tomllib.loads(Path(args.config).read_text())
    if args.real:
        eval_root, train_real = Path(args.real), (Path(args.real_train) if args.real_train else None)
        if not eval_root.is_dir():
            raise FileNotFoundError(f"--real {eval_root}: no such folder")
        if train_real is None and "real" in names:
            print("note: --real without --real-train: the 'real' recipe is left out", file=sys.stderr)
            names.remove("real")
    else:
        eval_root, train_real = prepare_real(data_root, out / "data")
    pairs = group_pairs(eval_root)
    keep = min(range(len(pairs)), key=lambda i: (pairs[i][0] != "w21", i))
    identity, crop = score(load_deblurrer("identity"), pairs, keep)
    crops = {"blurred": crop, "sharp": to_uint(read_image(pairs[keep][2]), 8)}
    results: dict[str, dict] = {"identity": summarize(identity, identity)}
    per_pair: dict[str, list] = {"identity": identity}
    described: dict[str, str] = {"identity": "the blurred input"}
    if args.oracle:
        print(f"[{ORACLE}] fitting the linear ceiling on {len(pairs)} pairs", file=sys.stderr, flush=True)
        per_pair[ORACLE], crops[ORACLE] = score(ORACLE, pairs, keep)
        results[ORACLE] = summarize(per_pair[ORACLE], identity)
        described[ORACLE] = (f"ceiling: a {ORACLE_SIZE}x{ORACLE_SIZE} linear filter per {ORACLE_TILE} px tile "
                             "fitted to the sharp frame")
    for spec in (m for m in models if m != "identity"):  # identity is the reference row already
        print(f"[{spec}] scoring", file=sys.stderr, flush=True)
        rows, crops[spec] = score(load_deblurrer(spec, device=args.device), pairs, keep)
        per_pair[spec], results[spec] = rows, summarize(rows, identity)
        described[spec] = f"model {spec}"
        print(f"[{spec}] gain {results[spec]['gain']:+.2f} dB", file=sys.stderr, flush=True)
    for name in names:
        r = RECIPES[name]
        srcs: list[dict[str, Any]]
        if r.source == "albumentations":
            srcs = [{"kind": "pairs", "root": str(albumentations_pairs(
                data_root / "bsds500/train", out / "data" / "albumentations", args.albu_variants).resolve())}]
        elif r.source == "real":
            srcs = [{"kind": "gopro", "root": str(Path(train_real).resolve())}]  # type: ignore[arg-type]
        else:
            srcs = [{"kind": "on_the_fly", "root": "bsds500/train"}]
            if r.scale is not None:
                srcs[0]["scale"] = list(r.scale)
        raw = recipe_config(base, r, args.steps, srcs)
        gen = train_recipe(raw, out / "runs" / name, data_root, args.retrain, args.device, r.description)
        rows, crops[name] = score(load_deblurrer(str(gen), device=args.device), pairs, keep)
        per_pair[name] = rows
        results[name] = summarize(rows, identity)
        described[name] = r.description
        print(f"[{name}] gain {results[name]['gain']:+.2f} dB", file=sys.stderr, flush=True)
    return {"meta": meta, "args": vars(args), "recipes": {n: asdict(RECIPES[n]) for n in names},
            "described": described, "eval_pairs": len(pairs), "results": results, "per_pair": per_pair,
            "crops": crops}


def report(study: dict[str, Any]) -> str:
    res = study["results"]
    windows = sorted(k for k in res["identity"] if k.startswith("gain_"))
    rows = []
    for name, r in res.items():
        rows.append({"recipe": name, "data": study["described"][name], "PSNR": round(r["psnr"], 2), "gain dB": round(r["gain"], 2),
                     **{w.replace("gain_", "gain "): round(r[w], 2) for w in windows},
                     "SSIM": round(r["ssim"], 4), "colour shift": round(r["shift"], 2),
                     "sharpness": round(r["sharpness"], 3)})
    cols = ["recipe", "data", "PSNR", "gain dB", *[w.replace("gain_", "gain ") for w in windows],
            "SSIM", "colour shift", "sharpness"]
    m = study["meta"]
    what = (f"{len(study['args']['models'].split(','))} model(s) scored" if study["args"]["models"]
            else f"{study['args']['steps']} steps per recipe")
    head = (f"Sim-to-real study: {what}, {study['eval_pairs']} real pairs; "
            f"{m['date']}, commit {m['commit']}, {m['machine']}\n\n")
    return head + markdown_table(rows, cols) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sim2real", description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default="../shared/data", help="folder with bsds500/ and gopro_frames/")
    p.add_argument("--real", default=None, help="real evaluation pairs (GoPro layout or blur/+sharp/)")
    p.add_argument("--real-train", default=None, help="real training pairs for the 'real' recipe (with --real)")
    p.add_argument("--recipes", default=",".join(DEFAULT_RECIPES), help=f"comma list of: {', '.join(RECIPES)}")
    p.add_argument("--steps", type=int, default=400, help="training steps per recipe (default 400)")
    p.add_argument("--models", default=None, metavar="SPEC[,SPEC]",
                   help="score these deblurrers (checkpoint files or registered names) instead of training recipes")
    p.add_argument("--no-oracle", dest="oracle", action="store_false",
                   help=f"leave out the {ORACLE} ceiling row (a linear filter per tile fitted to the sharp frame)")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="base training config (network, loss, optimiser)")
    p.add_argument("--albu-variants", type=int, default=4, help="albumentations copies per photo (default 4)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="runs/sim2real")
    p.add_argument("--retrain", action="store_true", help="train recipes again even if a matching run exists")
    return p


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2, after one ``error: ...`` line, on bad input)."""
    return run_main(_main, argv)


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.steps < 1:
        raise UsageError("--steps must be >= 1")
    study = run_study(args)
    out = Path(args.out)
    text = report(study)
    write_text(out / "sim2real.md", text)
    draw(study["results"], study.pop("crops"), out)
    write_json(out / "sim2real.json", study)
    print(text)
    print(f"written: {out / 'sim2real.md'}, sim2real.json, sim2real_bars.png, sim2real_crops.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
