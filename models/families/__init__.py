"""The model families, one module each: its loss config, ``train_step(ctx, batch)``, the deblurrer
that runs its network, and the registration of both (:func:`models.checkpoint.register_network`,
:func:`models.training.families.register_family`).

* :mod:`models.families.deblurgan` — WGAN-GP + perceptual loss, PatchGAN critic;
* :mod:`models.families.deblurganv2` — RaLSGAN, double-scale critic;
* :mod:`models.families.svrnn` — the spatially variant RNN, pixel loss;
* :mod:`models.families.nafnet` — NAFNet, pixel loss.

:func:`load_all` imports every module of this package whose name does not start with ``_`` (those
are shared code, such as the pixel-loss step of :mod:`models.families._pixel`), so a new family
is one new file here (and its architecture under :mod:`models.archs`) and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> list[str]:
    """Import every family module (registering it); returns their names, sorted."""
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    return names
