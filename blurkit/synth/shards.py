"""Join the shards of a run made with ``shard="i/N"`` into one ``manifest.csv``.

Shard ``i`` of ``N`` owns the pairs whose key hashes to ``i`` (:func:`blurkit.synth.runner.shard_of`),
so shards can run on different machines in any order; each pair's seed depends only on the base seed
and its key, never on the shard. A shard writes ``manifest.shard-i-of-N.csv``, the keys it owned
(``plan.shard-i-of-N.json``) and its failures (``errors.shard-i-of-N.csv``). Once every shard's files
(including ``meta/``) are in one folder, :func:`merge_shards` checks that all ``N`` shards are there,
that no pair appears twice and that every owned key has a complete pair, then writes ``manifest.csv``
(the same bytes as an unsharded run) and ``errors.csv``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from blurkit.io import atomic_write_bytes
from blurkit.synth.manifest import (
    ERRORS_FILE,
    RUN_FILE,
    collect_rows,
    read_csv_table,
    read_json,
    write_manifest,
)
from blurkit.synth.runner import JobLock, settings_differ, shard_of

_SHARD_RE = re.compile(r"^manifest\.shard-(\d+)-of-(\d+)\.csv$")


@dataclass
class MergeReport:
    """Outcome of :func:`merge_shards`: ``ok`` when every shard is there and every pair is complete."""

    shards: int = 0
    pairs: int = 0
    missing_shards: list[int] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    misplaced: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    manifest: Path | None = None

    @property
    def ok(self) -> bool:
        return not (self.missing_shards or self.missing or self.misplaced or self.failed)

    def problems(self) -> list[str]:
        lines = [f"shard {i} of {self.shards}: no manifest (not run or not copied here)" for i in self.missing_shards]
        lines += [f"{k}: planned but no complete pair" for k in self.missing]
        lines += [f"{k}: listed by a shard that does not own it (shards of different N mixed?)" for k in self.misplaced]
        lines += [f"{s}: failed: {r}" for s, r in self.failed]
        return lines


def merge_shards(out: str | os.PathLike[str]) -> MergeReport:
    """Merge the shard manifests of ``out`` into ``manifest.csv`` (see the module docstring).

    The merged manifest is written whenever the shards agree; missing shards, missing pairs and
    failures are listed in the report (``report.ok`` is then False).

    Raises:
        FileNotFoundError: ``out`` holds no shard manifest.
        JobLocked: a shard is still running in ``out``.
        ValueError: shards of different ``N``, shards made with different settings (seed, preset,
            config, sources, …; recorded in each shard's plan), a pair listed by two shards, or an
            unreadable shard file (named).
    """
    root = Path(out)
    found: dict[int, Path] = {}
    counts: set[int] = set()
    for p in sorted(root.glob("manifest.shard-*-of-*.csv")):
        m = _SHARD_RE.match(p.name)
        if m:
            found[int(m.group(1))] = p
            counts.add(int(m.group(2)))
    if not found:
        raise FileNotFoundError(f"{root}: no shard manifests (manifest.shard-I-of-N.csv) to merge")
    if len(counts) != 1:
        raise ValueError(f"{root}: shard manifests of different shard counts {sorted(counts)}; keep one N")
    n = counts.pop()
    with JobLock(root):  # no shard may be writing while the manifest is assembled
        return _merge(root, n, found)


def _merge(root: Path, n: int, found: dict[int, Path]) -> MergeReport:
    report = MergeReport(shards=n, missing_shards=[i for i in range(n) if i not in found])
    _check_same_settings(root, n, sorted(found))
    owner: dict[str, int] = {}
    for i, p in sorted(found.items()):
        table = read_csv_table(p, "shard manifest", dtype={"key": str})
        if len(table.columns) and "key" not in table.columns:
            raise ValueError(f"{p}: no key column (not a shard manifest written by blurkit?)")
        keys = table["key"].astype(str).tolist() if len(table.columns) else []
        for k in keys:
            if k in owner:
                raise ValueError(f"{p}: pair {k!r} is also listed by shard {owner[k]}; remove one shard's copy")
            owner[k] = i
            if shard_of(k, n) != i:
                report.misplaced.append(k)
        plan = root / f"plan.shard-{i}-of-{n}.json"
        planned = read_json(plan).get("keys", []) if plan.is_file() else keys
        report.missing.extend(sorted(set(planned) - set(keys)))
        errors = root / f"errors.shard-{i}-of-{n}.csv"
        if errors.is_file():
            df = read_csv_table(errors, "shard's error list", dtype=str)
            if len(df.columns) and not {"source", "reason"} <= set(df.columns):
                raise ValueError(f"{errors}: expected the columns source, reason")
            if len(df.columns):
                report.failed.extend(zip(df["source"], df["reason"], strict=True))
    rows = {str(r["key"]): r for r in collect_rows(root)}
    absent = sorted(k for k in owner if k not in rows)
    report.missing = sorted(set(report.missing) | set(absent))
    merged = [rows[k] for k in sorted(owner) if k in rows]
    report.pairs = len(merged)
    report.manifest = write_manifest(root, merged)
    if report.failed:
        df = pd.DataFrame(report.failed, columns=["source", "reason"]).drop_duplicates()
        atomic_write_bytes(root / ERRORS_FILE, df.to_csv(index=False).encode())
    elif (root / ERRORS_FILE).exists():
        (root / ERRORS_FILE).unlink()
    return report


def _check_same_settings(root: Path, n: int, shards: list[int]) -> None:
    """Refuse shards whose plans record different settings (plans written before settings were
    recorded are not compared), and a ``blurkit.json`` that disagrees with them."""
    seen: tuple[int, dict[str, object]] | None = None
    for i in shards:
        plan = root / f"plan.shard-{i}-of-{n}.json"
        if not plan.is_file():
            continue
        settings = read_json(plan).get("settings")
        if not isinstance(settings, dict):
            continue
        if seen is None:
            seen = (i, settings)
            continue
        changed = settings_differ(seen[1], settings) or settings_differ(settings, seen[1])
        if changed:
            raise ValueError(
                f"{plan}: shard {i} was made with other settings than shard {seen[0]} ({', '.join(sorted(set(changed)))}); "
                "shards of one job must share every setting: remake the odd shard"
            )
    run = root / RUN_FILE
    if seen is not None and run.is_file():
        changed = settings_differ(read_json(run), seen[1])
        if changed:
            raise ValueError(
                f"{run}: settings ({', '.join(changed)}) differ from the shards' (shard {seen[0]}); "
                "a shard of another job was run here"
            )


__all__ = ["MergeReport", "merge_shards"]
