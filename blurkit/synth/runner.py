"""Running a job: plan what this run owns and still has to do, execute it, finish with the manifest.

:func:`run_job` is shared by ``make`` and ``average``. It takes a :class:`blurkit.synth.job.Job` (the
items and the function that makes one pair) and :class:`blurkit.synth.JobOptions` (how to run), and
goes through three steps:

1. :func:`plan_run`: the items this run owns (``shard``) and their output paths; nothing is written
   (``dry_run`` stops here);
2. :func:`execute_run`, under the folder's lock (:class:`blurkit.synth.lock.JobLock`): refuse a folder
   this run must not touch, record the settings, skip complete pairs (``resume``) and make the rest,
   locally, in worker processes or on a Dask cluster (:mod:`blurkit.synth.workers`);
3. :func:`finish_run`: the manifest (and a shard's plan) from the meta files, and ``errors.csv``.

Failures of one source (unreadable, corrupt, too small, too large) are recorded and the run goes on.
Failures to *write* (disk full, read-only folder) stop the run with :class:`OutputError`: every pair
written before stays complete, the failed pair leaves no file behind, and ``resume`` finishes later.
A worker process that dies (killed by a signal, out of memory) stops the run the same way.

Safety: a run holds a lock on its output folder, so a second run on the same folder is refused while
the first is alive; every output path is checked to lie inside the output folder (after
normalisation and symbolic links) before it is written (:mod:`blurkit.synth.outputs`); worker
processes exit when the process that started them dies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from blurkit.io import atomic_write_bytes
from blurkit.synth.job import Item, Job, MakeResult, OutputError
from blurkit.synth.lock import LOCK_FILE, JobLock
from blurkit.synth.manifest import (
    RUN_FILE,
    collect_rows,
    explain_changes,
    read_json,
    settings_differ,
    write_json,
    write_manifest,
)
from blurkit.synth.options import JobOptions
from blurkit.synth.outputs import describe_write_error, is_complete, item_paths, pair_exists, remove_stale
from blurkit.synth.shards import errors_name, manifest_name, plan_name, shard_of
from blurkit.synth.workers import available_cores, effective_workers, execute


@dataclass
class RunPlan:
    """The items a run owns (after ``shard``), their output paths, and the job and options."""

    job: Job
    options: JobOptions
    items: list[Item]
    paths: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def targets(self) -> set[str]:
        """Every output path of the run, relative to the output folder."""
        return {rel for p in self.paths.values() for rel in p.values()}

    def existing(self) -> list[Item]:
        """The items that have a file in the output folder already (complete or not)."""
        return [it for it in self.items if pair_exists(self.job.out, self.paths[it.key])]


def run_job(job: Job, options: JobOptions | None = None) -> MakeResult:
    """Run ``job.fn`` over the items this run owns and write the manifest (see the module docstring).

    Raises:
        FileExistsError: pairs of this job exist and neither ``resume`` nor ``overwrite`` is set.
        ValueError: ``resume`` with settings that differ from the folder's ``blurkit.json``, a folder
            holding a job with other settings (without ``overwrite``), ``out`` is a file.
        JobLocked: another live job holds the folder's lock.
        OutputError: the output folder cannot be written (the run stopped); :class:`WorkerDied` when a
            worker process died.
    """
    plan = plan_run(job, options or JobOptions())
    result = MakeResult(out=job.out, planned=list(plan.items), dry_run=plan.options.dry_run)
    if plan.options.dry_run:
        result.skipped = len(plan.existing()) if plan.options.resume else 0
        result.todo = len(plan.items) - result.skipped
        return result
    out = job.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(describe_write_error(out.parent, out.name, exc)) from exc
    try:
        lock = JobLock(out, plan.options.shard_pair).acquire()
    except OSError as exc:
        raise OutputError(describe_write_error(out, LOCK_FILE, exc)) from exc
    try:
        stopped = execute_run(plan, result)
        finish_run(plan, result, stopped)
    finally:
        lock.release()
    return result


def plan_run(job: Job, options: JobOptions) -> RunPlan:
    """The items this run owns and their output paths; refuses a job that cannot run. Writes nothing."""
    if options.backend == "dask" and job.local_iter is not None:
        raise ValueError("backend: the Dask backend runs on CPU workers; use device='cpu'")
    if job.out.exists() and not job.out.is_dir():
        raise ValueError(f"{job.out}: --out is a file, not a folder; pass a folder for the pairs")
    shard = options.shard_pair
    items = [it for it in job.items if shard is None or shard_of(it.key, shard[1]) == shard[0]]
    return RunPlan(job, options, items, {it.key: item_paths(it, options.fmt, job.kernel) for it in items})


def execute_run(plan: RunPlan, result: MakeResult) -> OutputError | None:
    """Make the pairs the run still has to do, counting them in ``result``.

    Returns the :class:`OutputError` that stopped the run (``None``: it ran to the end); the
    manifest is written either way (:func:`finish_run`).
    """
    out, options = plan.job.out, plan.options
    todo = _prepare_folder(plan, result)
    workers = options.workers
    if options.backend == "local" and plan.job.local_iter is None:
        workers = effective_workers(options.workers, len(todo))
        if workers < options.workers and options.on_note is not None and todo:
            options.on_note(
                f"workers: using {workers} of the {options.workers} asked for "
                f"({len(todo)} pair(s) to make, {available_cores()} core(s) available)"
            )
    try:
        for it, row, err in execute(todo, plan.job, options, workers):
            if err is not None:
                result.errors.append((it.rel, err))
                if options.on_error is not None:
                    options.on_error(it.rel, err)
            elif row is not None:
                result.written += 1
    except OutputError as exc:
        remove_stale(out, plan.targets)
        return exc
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM through the CLI: workers are gone, tidy up
        remove_stale(out, plan.targets)
        raise
    return None


def _prepare_folder(plan: RunPlan, result: MakeResult) -> list[Item]:
    """Refuse a folder this run must not touch, record the settings, remove temporary files left by a
    killed run; the items still to make (``resume`` skips complete pairs, counted in ``result``)."""
    out, options = plan.job.out, plan.options
    run_file = out / RUN_FILE
    existing = plan.existing()
    if existing and not (options.resume or options.overwrite):
        raise FileExistsError(
            f"{out}: already holds {len(existing)} pair(s) of this job (e.g. {plan.paths[existing[0].key]['blur']}); "
            "pass --resume to finish an interrupted run or --overwrite to replace them"
        )
    if run_file.is_file() and not options.overwrite:
        previous = read_json(run_file)
        changed = settings_differ(previous, plan.job.settings)
        if changed and options.resume:
            raise ValueError(
                f"{run_file}: --resume with different settings ({explain_changes(previous, plan.job.settings, changed)}); "
                "use the same settings or a new output folder"
            )
        if changed and collect_rows_exist(out):
            raise ValueError(
                f"{run_file}: this folder holds pairs of a job with other settings "
                f"({explain_changes(previous, plan.job.settings, changed)}); "
                "use a new output folder, or --overwrite to replace them"
            )
    try:
        write_json(run_file, dict(plan.job.settings))
    except OSError as exc:
        raise OutputError(describe_write_error(out, RUN_FILE, exc)) from exc
    remove_stale(out, plan.targets)
    existing_keys = {it.key for it in existing}
    todo = []
    for it in plan.items:
        if options.resume and it.key in existing_keys and is_complete(out, it, options.fmt, plan.job.kernel):
            result.skipped += 1
        else:
            todo.append(it)
    result.todo = len(todo)
    return todo


def finish_run(plan: RunPlan, result: MakeResult, stopped: OutputError | None = None) -> None:
    """Write the manifest of every complete pair (a shard: of its own keys, plus its plan) and the
    error list; then raise ``stopped``, or an :class:`OutputError` if these files cannot be written."""
    out, shard = plan.job.out, plan.options.shard_pair
    try:
        keys = {it.key for it in plan.items} if shard is not None else None
        rows = [r for r in collect_rows(out) if keys is None or r["key"] in keys]
        result.manifest = write_manifest(out, rows, name=manifest_name(shard))
        if shard is not None:
            write_json(
                out / plan_name(shard),
                {"shard": list(shard), "keys": sorted(it.key for it in plan.items), "settings": dict(plan.job.settings)},
            )
        _write_errors(out / errors_name(shard), result.errors)
    except OSError as exc:
        if stopped is None:
            stopped = OutputError(describe_write_error(out, manifest_name(shard), exc))
    if stopped is not None:
        raise stopped


def _write_errors(path: Path, errors: Sequence[tuple[str, str]]) -> None:
    import pandas as pd

    if errors:
        df = pd.DataFrame(list(errors), columns=["source", "reason"]).drop_duplicates()
        atomic_write_bytes(path, df.to_csv(index=False).encode())
    elif path.exists():
        path.unlink()


def collect_rows_exist(out: Path) -> bool:
    """Whether ``out`` holds at least one pair's meta file (of any job)."""
    meta = out / "meta"
    if not meta.is_dir():
        return False
    return any(True for _ in meta.rglob("*.json"))


def plan_report(result: MakeResult, fmt: str, kernel: bool, show: int = 5) -> str:
    """Human-readable lines describing a dry run: counts, the first items and their output paths.

    Names are printed as they are; the command line escapes control characters.
    """
    out = result.out or Path(".")
    lines = [
        f"{len(result.planned)} pair(s) planned, {result.skipped} already present, {result.todo} to make -> {out}"
    ]
    for it in result.planned[:show]:
        p = item_paths(it, fmt, kernel)
        src = f"{len(it.frames)} frames {it.frame_rels[0]}..{it.frame_rels[-1]}" if it.frames else it.rel
        lines.append(f"  {src} -> {out / p['blur']}, {out / p['sharp']}")
    if len(result.planned) > show:
        lines.append(f"  ... and {len(result.planned) - show} more")
    return "\n".join(lines)


__all__ = ["RunPlan", "execute_run", "finish_run", "plan_report", "plan_run", "run_job"]
