"""Image-quality metrics that reproduce published evaluation protocols.

* :func:`psnr` — PSNR on 8-bit levels, peak 255 (variants ``rgb``, ``y``, ``luma``).
* :func:`ssim` — SSIM with named variants (``skimage``, ``matlab3d``, ``skimage_y``, ``matlab_y``).
* :func:`kohler_psnr` — the Köhler et al. (ECCV 2012) benchmark score of one deblurred image against
  its sequence of ground-truth frames.

Conventions and the reasons behind them are in ``docs/metrics.md``.
"""

from blurkit.metrics.kohler import KohlerScore, kohler_psnr
from blurkit.metrics.psnr import PSNR_VARIANTS, psnr
from blurkit.metrics.ssim import SSIM_VARIANTS, ssim

__all__ = ["PSNR_VARIANTS", "SSIM_VARIANTS", "KohlerScore", "kohler_psnr", "psnr", "ssim"]
