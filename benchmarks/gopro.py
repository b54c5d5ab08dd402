"""GoPro (Nah et al. 2017) benchmark: PSNR / SSIM of predictions or of a model on the test split.

Usage::

    python -m benchmarks.gopro --root datasets/GOPRO_Large --pred results/gopro_png
    python -m benchmarks.gopro --root datasets/GOPRO_Large --model identity --device cuda

Layouts found under ``--root`` (the first that exists wins):

* ``[GOPRO_Large/]test/<scene>/{blur,blur_gamma,sharp}/NNNNNN.png`` (the official release);
* ``[test/]{input,target}/<name>.png`` (the flat copy used by MPRNet/Restormer-style repositories;
  the scene is the part of the name before the last ``-``).

The ``blur`` folder (blur synthesised in linear light) is scored by default; ``--blur-gamma`` selects
``blur_gamma``. Predictions (``--pred``) may mirror the blurred images' relative paths
(``<scene>/blur/NNNNNN.png``), drop the ``blur`` level (``<scene>/NNNNNN.png``), or be a flat folder
of unique file names (``<scene>-NNNNNN.png`` or ``NNNNNN.png``). Results: mean PSNR / SSIM over all
pairs and per scene, written to ``--out`` as ``per_image.csv``, ``per_scene.csv``, ``summary.json``
(with run metadata) and ``summary.md``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import markdown_table, metadata, write_json
from benchmarks._pairs import (
    DEFAULT_SSIM,
    check_lossless,
    finite_mean,
    index_images,
    read_uint8,
    score_pair,
    write_csv,
    write_text,
)
from blurkit.io import list_images
from blurkit.scripting import USER_ERRORS, run_main


@dataclass(frozen=True)
class GoProPair:
    """One test pair: scene, relative key of the blurred image, and the two files."""

    scene: str
    key: str
    blurred: Path
    sharp: Path


def find_gopro_pairs(root: str | Path, split: str = "test", blur_gamma: bool = False) -> list[GoProPair]:
    """All (blurred, sharp) pairs of a GoPro split under ``root``, sorted.

    Raises:
        FileNotFoundError: naming ``root`` and the layouts looked for, when none is found, or a
            blurred image without its sharp partner.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    blur_dir = "blur_gamma" if blur_gamma else "blur"
    for base in (root / "GOPRO_Large" / split, root / split, root):
        scenes = sorted(p for p in base.iterdir() if (p / "sharp").is_dir()) if base.is_dir() else []
        if scenes:
            pairs = []
            for scene in scenes:
                if not (scene / blur_dir).is_dir():
                    raise FileNotFoundError(f"{scene / blur_dir}: missing (scene {scene.name} has no {blur_dir} folder)")
                for b in list_images(scene / blur_dir):
                    s = scene / "sharp" / b.name
                    if not s.is_file():
                        raise FileNotFoundError(f"{s}: sharp image missing for {b}")
                    pairs.append(GoProPair(scene.name, f"{scene.name}/{blur_dir}/{b.stem}", b, s))
            return pairs
    for base in (root / split, root):
        if (base / "input").is_dir() and (base / "target").is_dir():
            if blur_gamma:
                raise FileNotFoundError(f"{base}: the flat input/target layout has no blur_gamma images")
            pairs = []
            for b in list_images(base / "input"):
                s = base / "target" / b.relative_to(base / "input")
                if not s.is_file():
                    raise FileNotFoundError(f"{s}: target image missing for {b}")
                scene_name = b.stem.rsplit("-", 1)[0] if "-" in b.stem else "all"
                pairs.append(GoProPair(scene_name, b.relative_to(base / "input").with_suffix("").as_posix(), b, s))
            if pairs:
                return pairs
    raise FileNotFoundError(
        f"{root}: no GoPro {split} split found (looked for [GOPRO_Large/]{split}/<scene>/{{{blur_dir},sharp}}/ "
        f"and [{split}/]{{input,target}}/)"
    )


def resolve_prediction(pair: GoProPair, preds: dict[str, Path], by_stem: dict[str, Path]) -> Path:
    """The prediction file of ``pair`` among the indexed prediction files.

    Raises:
        FileNotFoundError: no candidate name matches.
    """
    stem = pair.blurred.stem
    candidates = [pair.key, f"{pair.scene}/{stem}", f"{pair.scene}-{stem}", f"{pair.scene}_{stem}"]
    for c in candidates:
        if c in preds:
            return preds[c]
    if stem in by_stem:
        return by_stem[stem]
    raise FileNotFoundError(f"no prediction for {pair.key} (looked for {', '.join(candidates)} and {stem})")


def evaluate_gopro(
    root: str | Path,
    pred: str | Path | None = None,
    model: str | None = None,
    device: str = "cpu",
    blur_gamma: bool = False,
    allow_lossy: bool = False,
    ssim_variants: tuple[str, ...] = DEFAULT_SSIM,
    limit: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score predictions (``pred`` folder) or a model (``model`` spec) on the GoPro test split.

    Returns:
        ``{"rows": per-image rows, "scenes": per-scene rows, "summary": overall means}``.

    Raises:
        ValueError: neither or both of ``pred`` and ``model``, lossy predictions, size mismatches.
        FileNotFoundError: dataset layout or prediction files not found.
    """
    from tqdm import tqdm

    if (pred is None) == (model is None):
        raise ValueError("give exactly one of --pred DIR or --model SPEC")
    pairs = find_gopro_pairs(root, blur_gamma=blur_gamma)
    if limit is not None:
        pairs = pairs[:limit]
    runner = None
    preds: dict[str, Path] = {}
    by_stem: dict[str, Path] = {}
    if pred is not None:
        pred_root = Path(pred)
        if not pred_root.is_dir():
            raise FileNotFoundError(f"{pred_root}: no such folder")
        preds = index_images(pred_root)
        stems: dict[str, list[Path]] = {}
        for p in preds.values():
            stems.setdefault(p.stem, []).append(p)
        by_stem = {s: ps[0] for s, ps in stems.items() if len(ps) == 1}
        check_lossless((resolve_prediction(p, preds, by_stem) for p in pairs), allow_lossy)
    else:
        runner = _model_runner(str(model), device)
    rows = []
    for pair in tqdm(pairs, desc="GoPro", unit="img", disable=not progress):
        sharp = read_uint8(pair.sharp)
        if runner is not None:
            out = runner(read_uint8(pair.blurred))
        else:
            out = read_uint8(resolve_prediction(pair, preds, by_stem))
        if out.shape != sharp.shape:
            raise ValueError(f"{pair.key}: prediction shape {out.shape} differs from sharp image shape {sharp.shape}")
        rows.append({"scene": pair.scene, "image": pair.key, **score_pair(out, sharp, ssim_variants)})
    metrics = [k for k in rows[0] if k not in ("scene", "image")]
    scenes = []
    for scene in sorted({r["scene"] for r in rows}):
        sel = [r for r in rows if r["scene"] == scene]
        scenes.append({"scene": scene, "pairs": len(sel), **{m: finite_mean(r[m] for r in sel) for m in metrics}})
    summary = {"pairs": len(rows), **{m: finite_mean(r[m] for r in rows) for m in metrics}}
    return {"rows": rows, "scenes": scenes, "summary": summary}


def _model_runner(spec: str, device: str) -> Any:
    import torch

    from blurkit.tensors import to_image, to_tensor
    from models.base import load_deblurrer

    model = load_deblurrer(spec, device=device)

    def run(img: np.ndarray) -> np.ndarray:
        x = to_tensor(img)[None].to(device, torch.float32) / 255.0
        with torch.inference_mode():
            y = model(x)
        arr = to_image(y.clamp(0, 1)[0].float())
        return np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)

    return run


def write_results(out: Path, result: dict[str, Any], args: dict[str, Any], device: str) -> str:
    """Write CSVs, JSON and markdown under ``out``; return the markdown."""
    metrics = [k for k in result["summary"] if k != "pairs"]
    md = "\n\n".join(
        [
            "## GoPro test — overall",
            markdown_table([{"set": "all", **result["summary"]}], ["set", "pairs", *metrics]),
            "## Per scene",
            markdown_table(result["scenes"], ["scene", "pairs", *metrics]),
        ]
    )
    write_csv(out / "per_image.csv", result["rows"])
    write_csv(out / "per_scene.csv", result["scenes"])
    write_json(out / "summary.json", {"benchmark": "gopro", "args": args, "meta": metadata(device), **result})
    write_text(out / "summary.md", md + "\n")
    return md


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2, after one ``error: ...`` line, on bad input)."""
    return run_main(_main, argv, errors=(*USER_ERRORS, OSError))


def _main(argv: list[str] | None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gopro", description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True, help="folder holding GOPRO_Large/ (or test/, or the split itself)")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--pred", help="folder of predictions (PNG)")
    src.add_argument("--model", help="deblurrer spec for models.load_deblurrer (name or checkpoint)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--blur-gamma", action="store_true", help="score blur_gamma instead of blur")
    ap.add_argument("--allow-lossy", action="store_true", help="accept JPEG/WebP predictions")
    ap.add_argument("--ssim", default=",".join(DEFAULT_SSIM), help="comma-separated SSIM variants")
    ap.add_argument("--limit", type=int, default=None, help="score only the first N pairs")
    ap.add_argument("--out", default="runs/gopro", help="results folder")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    a = ap.parse_args(argv)
    result = evaluate_gopro(
        a.root, a.pred, a.model, a.device, a.blur_gamma, a.allow_lossy,
        tuple(v for v in a.ssim.split(",") if v), a.limit, not a.quiet,
    )
    md = write_results(Path(a.out), result, vars(a), a.device)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
