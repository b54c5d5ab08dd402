"""From sharp images to blurry/sharp pairs: one image, a batch, a dataset with its manifest, or frames.

- :func:`make_dataset`: synthetic blur (kernels + degradation chain) for every source image;
- :func:`average_frames`: real blur from windows of consecutive high-frame-rate video frames;
- :class:`JobOptions`: how a ``make`` or ``average`` job runs (workers, format, PNG level, resume,
  shards, backend, …), shared by both;
- :func:`merge_shards`: join the manifests of a sharded run;
- :func:`inspect_pairs`, :func:`verify_pairs`: look at and check a pair folder;
- :func:`export_kernel_bank`: sampled kernels as a bank file for ``kernel="bank"``.
"""

from importlib import import_module
from typing import Any

#: Where each public name lives; imported on first use, so that ``blurkit make`` on the CPU never
#: pays for modules (torch among them) that its path does not run.
_HOMES = {
    "JobOptions": "blurkit.synth.options",
    "MakeResult": "blurkit.synth.job",
    "OutputError": "blurkit.synth.job",
    "average_frames": "blurkit.synth.average",
    "average_linear": "blurkit.synth.average",
    "blur_batch": "blurkit.ops.degrade:degrade_batch",
    "blur_image": "blurkit.synth.pair",
    "export_kernel_bank": "blurkit.synth.bank",
    "inspect_pairs": "blurkit.synth.inspection",
    "make_dataset": "blurkit.synth.make",
    "merge_shards": "blurkit.synth.shards",
    "read_manifest": "blurkit.synth.manifest",
    "regenerate_blurred": "blurkit.synth.manifest",
    "resolve_sources": "blurkit.synth.sources",
    "verify_pairs": "blurkit.synth.inspection",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attr = home.partition(":")
    value = getattr(import_module(module), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


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
