"""Deblurring models: architectures, training, inference and classical baselines.

Every deblurrer, learned or classical, is used through one interface (:class:`models.base.Deblurrer`)
and loaded by name or checkpoint path with :func:`models.base.load_deblurrer`.
"""

from models.base import Deblurrer, load_deblurrer, register_deblurrer

__all__ = ["Deblurrer", "load_deblurrer", "register_deblurrer"]
