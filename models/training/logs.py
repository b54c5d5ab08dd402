"""The logs of a run folder: ``log.csv`` (losses per logged step), ``val.csv`` and the progress bar.

Rows are appended as the run goes; a resumed run first drops the rows logged after its checkpoint
(:func:`truncate_logs`), since it redoes those steps, so no step appears twice.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from blurkit.io import atomic_write_bytes

#: The file of the per-step losses, and the file of the validation scores.
LOG_FILE, VAL_FILE = "log.csv", "val.csv"
#: The columns of ``val.csv``.
VAL_FIELDS = ("step", "psnr", "ssim", "psnr_blurred", "ssim_blurred")


def append_row(path: Path, fields: Sequence[str], row: Mapping[str, Any]) -> None:
    """Append ``row`` (``fields`` only; missing ones empty) to a CSV file, with a header when new."""
    new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(fields))
        if new:
            w.writeheader()
        w.writerow({k: row.get(k, "") for k in fields})
        f.flush()


def truncate_rows(path: Path, last_step: int) -> None:
    """Drop rows logged after ``last_step`` (they are redone after a resume)."""
    if not path.exists():
        return
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        rows = [r for r in reader if int(r["step"]) <= last_step]
    lines = [",".join(fields)] + [",".join(str(r[k]) for k in fields) for r in rows]
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())


def truncate_logs(out_dir: Path, last_step: int) -> None:
    """:func:`truncate_rows` on both logs of a run folder."""
    for name in (LOG_FILE, VAL_FILE):
        truncate_rows(out_dir / name, last_step)


class RunLog:
    """The per-step records of a run: kept in memory and written to ``log.csv`` every ``every``
    steps and at the last one (rank 0 only), and shown on a tqdm bar.

    Args:
        path: the ``log.csv`` file.
        fields: its columns (the family's ``log_fields``).
        every: the logging period in steps.
        total: the step the schedule ends at.
        initial: the step the run starts from.
        main: whether this process writes (rank 0).
        progress: show the bar (on rank 0).
    """

    def __init__(
        self, path: Path, fields: Sequence[str], every: int, total: int, initial: int, main: bool, progress: bool
    ) -> None:
        from tqdm import tqdm

        self.path, self.fields, self.every, self.total, self.main = path, tuple(fields), every, total, main
        self.history: list[dict[str, float]] = []
        self.bar = tqdm(total=total, initial=initial, disable=not (main and progress), dynamic_ncols=True, file=sys.stderr)

    def add(self, record: dict[str, float]) -> None:
        """Count one step and, on rank 0, keep its record and log it when due."""
        self.bar.update(1)
        if not self.main:
            return
        self.history.append(record)
        step = int(record["step"])
        if step % self.every == 0 or step == self.total:
            append_row(self.path, self.fields, record)
            self.bar.set_postfix(
                d=f"{record.get('loss_d', 0.0):.3f}", g=f"{record['loss_g']:.3f}", l1=f"{record['l1']:.4f}"
            )

    def note(self, text: str) -> None:
        """Print a line without breaking the bar."""
        self.bar.write(text)

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()
