"""From sharp images to blurry/sharp pairs: one image, a batch, a dataset with its manifest, or frames.

- :func:`make_dataset`: synthetic blur (kernels + degradation chain) for every source image;
- :func:`average_frames`: real blur from windows of consecutive high-frame-rate video frames;
- :class:`JobOptions`: how a ``make`` or ``average`` job runs (workers, format, PNG level, resume,
  shards, backend, …), shared by both;
- :func:`merge_shards`: join the manifests of a sharded run;
- :func:`inspect_pairs`, :func:`verify_pairs`: look at and check a pair folder;
- :func:`export_kernel_bank`: sampled kernels as a bank file for ``kernel="bank"``.
"""

from blurkit.ops.degrade import degrade_batch as blur_batch
from blurkit.synth.average import average_frames, average_linear
from blurkit.synth.bank import export_kernel_bank
from blurkit.synth.inspection import inspect_pairs, verify_pairs
from blurkit.synth.job import MakeResult, OutputError
from blurkit.synth.make import make_dataset
from blurkit.synth.manifest import read_manifest, regenerate_blurred
from blurkit.synth.options import JobOptions
from blurkit.synth.pair import blur_image
from blurkit.synth.shards import merge_shards
from blurkit.synth.sources import resolve_sources

__all__ = [
    "JobOptions",
    "MakeResult",
    "OutputError",
    "average_frames",
    "average_linear",
    "blur_batch",
    "blur_image",
    "export_kernel_bank",
    "inspect_pairs",
    "make_dataset",
    "merge_shards",
    "read_manifest",
    "regenerate_blurred",
    "resolve_sources",
    "verify_pairs",
]
