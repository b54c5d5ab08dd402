"""Shards: split a run with ``shard="i/N"``, then join the shards into one ``manifest.csv``.

Shard ``i`` of ``N`` owns the pairs whose key hashes to ``i`` (:func:`shard_of`),
so shards can run on different machines in any order; each pair's seed depends only on the base seed
and its key, never on the shard. A shard writes ``manifest.shard-i-of-N.csv``, the keys it owned
(``plan.shard-i-of-N.json``) and its failures (``errors.shard-i-of-N.csv``). Once every shard's files
(including ``meta/``) are in one folder, :func:`merge_shards` checks that all ``N`` shards are there,
that no pair appears twice and that every owned key has a complete pair, then writes ``manifest.csv``
(the same bytes as an unsharded run) and ``errors.csv``.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from blurkit.io import atomic_write_bytes
from blurkit.synth.lock import JobLock
from blurkit.synth.manifest import (
    ERRORS_FILE,
    MANIFEST_FILE,
    RUN_FILE,
    collect_rows,
    read_csv_table,
    read_json,
    settings_differ,
    write_manifest,
)

_SHARD_RE = re.compile(r"^manifest\.shard-(\d+)-of-(\d+)\.csv$")


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"i/N"`` (0 <= i < N) → ``(i, N)``; ``None`` stays ``None``.

    >>> parse_shard("1/4")
    (1, 4)
    """
    if shard is None:
        return None
    if isinstance(shard, str):
        a, sep, b = shard.partition("/")
        try:
            i, n = int(a), int(b)
        except ValueError:
            raise ValueError(f"shard: expected I/N such as 0/4, got {shard!r}") from None
        if not sep:
            raise ValueError(f"shard: expected I/N such as 0/4, got {shard!r}")
    else:
        i, n = int(shard[0]), int(shard[1])
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"shard: expected 0 <= I < N, got {i}/{n}")
    return i, n


def shard_of(key: str, n: int) -> int:
    """The shard (0..n-1) that owns ``key``: a hash of the key alone, stable across machines.

    >>> shard_of("a.png", 4) == shard_of("a.png", 4)
    True
    """
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little") % n


def shard_suffix(shard: tuple[int, int]) -> str:
    """``shard-i-of-N``: what a shard's own files are named after."""
    return f"shard-{shard[0]}-of-{shard[1]}"


def manifest_name(shard: tuple[int, int] | None) -> str:
    return MANIFEST_FILE if shard is None else f"manifest.{shard_suffix(shard)}.csv"


def errors_name(shard: tuple[int, int] | None) -> str:
    return ERRORS_FILE if shard is None else f"errors.{shard_suffix(shard)}.csv"


def plan_name(shard: tuple[int, int]) -> str:
    return f"plan.{shard_suffix(shard)}.json"


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
        plan = root / plan_name((i, n))
        planned = read_json(plan).get("keys", []) if plan.is_file() else keys
        report.missing.extend(sorted(set(planned) - set(keys)))
        errors = root / errors_name((i, n))
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
        import pandas as pd

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
        plan = root / plan_name((i, n))
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


__all__ = ["MergeReport", "merge_shards", "parse_shard", "shard_of"]
