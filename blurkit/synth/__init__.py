"""From sharp images to blurry/sharp pairs: one image, a batch, or a whole dataset with its manifest."""

from blurkit.ops.degrade import degrade_batch as blur_batch
from blurkit.synth.dataset import MakeResult, make_dataset
from blurkit.synth.manifest import read_manifest, regenerate_blurred
from blurkit.synth.pair import blur_image

__all__ = ["MakeResult", "blur_batch", "blur_image", "make_dataset", "read_manifest", "regenerate_blurred"]
