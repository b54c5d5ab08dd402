"""The training batches of a run: its sources, their mixing sampler and loader, positioned by step.

An epoch is ``epoch_size // world`` draws of this process (:class:`models.data.MixedSampler`), in
whole batches; a run at step ``s`` is in epoch ``s // batches_per_epoch`` and continues it after
``s % batches_per_epoch`` batches, so a resumed run sees exactly the data an uninterrupted one does.
On-the-fly crops are blurred on the training device as their batch arrives.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from models.data import (
    MixedPairs,
    MixedSampler,
    collate_mixed,
    materialize_batch,
    resolve_source,
    seed_worker,
    source_probabilities,
)
from models.training.config import DataConfig
from models.training.distributed import Processes
from models.training.families import Batch


class TrainBatches:
    """The batches of ``[data]`` for this process, as ``(blurred, sharp)`` in [-1, 1] on its device.

    Raises:
        ValueError: a source has no images, or an epoch gives this process no full batch.
    """

    def __init__(self, data: DataConfig, data_root: Path | None, procs: Processes) -> None:
        sources = [resolve_source(s, data_root) for s in data.sources]
        probs = source_probabilities([s.config for s in sources], data.synthetic_to_real)
        epoch_size = data.epoch_size or sum(len(s) for s in sources)
        self.sampler = MixedSampler(
            [len(s) for s in sources], probs.tolist(), epoch_size, data.seed, procs.rank, procs.world
        )
        self.per_epoch = epoch_size // procs.world // data.batch_size
        if self.per_epoch < 1:
            raise ValueError(
                f"config [data]: epoch_size {epoch_size} gives no full batch of {data.batch_size} per process"
            )
        self.data, self.device = data, procs.device
        self.loader = DataLoader(
            MixedPairs(sources, data.crop, data.margin, cache_mb=data.cache_mb),
            batch_size=data.batch_size,
            sampler=self.sampler,
            num_workers=data.num_workers,
            collate_fn=collate_mixed,
            worker_init_fn=seed_worker,
            generator=torch.Generator().manual_seed(data.seed),
            drop_last=True,
            pin_memory=procs.device.type == "cuda",
            persistent_workers=False,
        )

    def epoch(self, step: int) -> int:
        """The epoch a run is in after ``step`` steps."""
        return step // self.per_epoch

    def from_step(self, step: int) -> Iterator[Batch]:
        """The rest of the epoch of ``step``: its batches after the first ``step % batches_per_epoch``."""
        d = self.data
        self.sampler.set_position(self.epoch(step), (step % self.per_epoch) * d.batch_size)
        for batch in self.loader:
            blurred, sharp = materialize_batch(batch, self.device, d.margin, d.blur_preset, d.blur)
            yield blurred * 2 - 1, sharp * 2 - 1
