"""The training loop shared by every model family: :func:`train`.

One step: the family's ``train_step(ctx, batch)`` (critic and generator updates), the learning-rate
schedules, the step's record (losses, L1, learning rate, time). Every ``log_every`` steps the record
goes to ``log.csv``, every ``val_every`` steps validation runs, every ``ckpt_every`` steps (and when
the run finishes or stops) ``checkpoint.pt`` is written; at the end ``generator.pt`` receives the
latest generator in the shipped format. What the pieces do: :mod:`models.training.config`,
:mod:`~models.training.state`, :mod:`~models.training.batches`, :mod:`~models.training.validation`,
:mod:`~models.training.logs`, :mod:`~models.training.distributed`.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from models.losses import build_perceptual
from models.training.batches import TrainBatches
from models.training.config import TrainConfig
from models.training.distributed import barrier, setup_processes, stop_everywhere, wrap_generator
from models.training.families import Batch, ModelFamily, StepContext, get_family
from models.training.logs import LOG_FILE, RunLog, truncate_logs
from models.training.state import TrainState, apply_learning_rate, load_checkpoint, new_state, save_checkpoint
from models.training.validation import Validation, prepare_validation

#: The files of a run folder written here (the logs: :mod:`models.training.logs`).
CHECKPOINT_FILE, GENERATOR_FILE = "checkpoint.pt", "generator.pt"


@dataclass
class TrainResult:
    """What :func:`train` did."""

    step: int
    finished: bool
    out: Path
    history: list[dict[str, float]]


def train(
    config: TrainConfig,
    out: str | os.PathLike[str],
    resume: bool = False,
    device: str | torch.device | None = None,
    vgg_weights: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
    max_minutes: float | None = None,
    progress: bool = True,
    stop_at: int | None = None,
) -> TrainResult:
    """Train (or continue training) the configured model into the run folder ``out``.

    Args:
        config: the configuration.
        out: run folder (its files: ``models.train``).
        resume: continue from ``out/checkpoint.pt`` (it must exist).
        device: training device (CUDA when available if None; ``cuda:LOCAL_RANK`` under torchrun).
        vgg_weights: local VGG weights for the perceptual loss (else ``BLURKIT_VGG_WEIGHTS``, else
            torchvision's download).
        data_root: folder relative data paths are resolved against.
        max_minutes: wall-clock budget; when spent, checkpoint and return ``finished=False``.
        progress: show a tqdm bar (rank 0).
        stop_at: stop (with a checkpoint) after this step, as if interrupted (for tests and staging).

    Returns:
        The last step, whether the schedule completed, the run folder and the per-step records of
        this call (rank 0).

    Raises:
        FileExistsError: ``out`` already holds a checkpoint and ``resume`` is False (a finished or
            interrupted run is never overwritten).
    """
    started = time.monotonic()
    procs = setup_processes(device)
    out_dir = open_run_folder(Path(out), resume, procs.main)
    root = Path(data_root) if data_root is not None else None
    family = get_family(config.model)
    state = new_state(family, config, procs.device)
    perceptual = build_perceptual(family.perceptual_variant(config.loss), vgg_weights, procs.device)
    batches = TrainBatches(config.data, root, procs)
    if resume:
        load_checkpoint(out_dir / CHECKPOINT_FILE, state, family, procs.rank)
        old_lr = apply_learning_rate(state, config.optim.lr)
        if procs.main:
            truncate_logs(out_dir, state.step)
            if old_lr is not None:
                print(f"note: optim.lr is {config.optim.lr:g} (the checkpoint's was {old_lr:g}); "
                      "the schedule continues from it", file=sys.stderr)
    amp = config.train.amp and procs.device.type == "cuda"
    generator = wrap_generator(state.generator, procs)
    ctx = StepContext(generator, state.opt_g, config.loss, state.critic, state.opt_d, perceptual, amp, procs.world)
    validation = prepare_validation(config, root, procs.device, out_dir) if procs.main else None
    oc, tc = config.optim, config.train
    log = RunLog(out_dir / LOG_FILE, family.log_fields, tc.log_every, oc.steps, state.step, procs.main, progress)
    state.train_mode()
    finished, stop = state.step >= oc.steps, False
    while not (finished or stop):
        epoch = batches.epoch(state.step)
        for batch in batches.from_step(state.step):
            log.add(train_one_step(family, ctx, state, batch, epoch, started))
            if validation is not None and _due(tc.val_every, state.step):
                log.note(validation.run(state.generator, state.step))
            finished = state.step >= oc.steps
            over_time = max_minutes is not None and (time.monotonic() - started) / 60.0 >= max_minutes
            stop = stop_everywhere(over_time, procs) or (stop_at is not None and state.step >= stop_at)
            if finished or stop or _due(tc.ckpt_every, state.step):
                save_checkpoint(out_dir / CHECKPOINT_FILE, state, family, config, procs)
            if finished or stop:
                break
    log.close()
    if procs.main:
        last_validation = validation if finished and not _due(tc.val_every, state.step) else None
        finish_run(out_dir, family, state, last_validation, log)
        if not finished:
            print(f"stopped at step {state.step} of {oc.steps}; resume with --resume", file=sys.stderr)
    barrier(procs)
    return TrainResult(step=state.step, finished=finished, out=out_dir, history=log.history)


def open_run_folder(out_dir: Path, resume: bool, main: bool) -> Path:
    """The run folder, created on rank 0; a run already in it is only continued, never replaced.

    Raises:
        FileExistsError: ``out_dir`` holds a checkpoint and ``resume`` is False.
    """
    if not resume and (out_dir / CHECKPOINT_FILE).exists():
        raise FileExistsError(
            f"{out_dir}: already holds a training run ({CHECKPOINT_FILE}); continue it with --resume, "
            "or train into another --out"
        )
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def train_one_step(
    family: ModelFamily, ctx: StepContext, state: TrainState, batch: Batch, epoch: int, started: float
) -> dict[str, float]:
    """One step of ``family`` on ``batch`` (then the schedules); returns the step's record."""
    ctx.step = state.step
    fake, losses = family.train_step(ctx, batch)
    state.advance()
    return {
        "step": state.step,
        "epoch": epoch,
        "lr": state.opt_g.param_groups[0]["lr"],
        **losses,
        "l1": float((fake.detach().float() - batch[1]).abs().mean() / 2),
        "seconds": round(time.monotonic() - started, 2),
    }


def finish_run(
    out_dir: Path, family: ModelFamily, state: TrainState, validation: Validation | None, log: RunLog
) -> None:
    """Rank 0 at the end of a call: a last validation when one is given, and ``generator.pt`` (the
    latest generator in the shipped format, also after a stop)."""
    if validation is not None:
        log.note(validation.run(state.generator, state.step))
    family.network.save(state.generator, out_dir / GENERATOR_FILE)


def _due(every: int, step: int) -> bool:
    """Whether a period of ``every`` steps (0: never) ends at ``step``."""
    return bool(every) and step % every == 0

