"""The former name of :mod:`blurkit.synth.make` (which makes pairs and holds no Dataset).

Only re-exports, so that imports written against the old name keep working; new code imports from
:mod:`blurkit.synth.make` and :mod:`blurkit.synth.sources`.
"""

from blurkit.synth.make import make_dataset
from blurkit.synth.sources import read_sharp8

__all__ = ["make_dataset", "read_sharp8"]
