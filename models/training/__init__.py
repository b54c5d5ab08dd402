"""The training loop shared by every model family, one concept per module.

* :mod:`models.training.config` — the dataclasses of a TOML config, its loading, ``--set``
  settings and the learning-rate schedule;
* :mod:`models.training.families` — the :class:`~models.training.families.ModelFamily` registry
  and the :class:`~models.training.families.StepContext` a family's ``train_step`` receives;
* :mod:`models.training.state` — networks, optimisers, schedules and step; ``checkpoint.pt``
  (save, resume, RNG states);
* :mod:`models.training.batches` — the sources, sampler and loader of a run, positioned by step;
* :mod:`models.training.validation` — fixed validation crops, scores, sample grids;
* :mod:`models.training.logs` — ``log.csv``, ``val.csv`` and their truncation on resume;
* :mod:`models.training.distributed` — ranks, device, gradient averaging, the shared stop flag;
* :mod:`models.training.loop` — :func:`~models.training.loop.train`, which wires them together.

The command line is ``python -m models.train`` (:mod:`models.train`).
"""
