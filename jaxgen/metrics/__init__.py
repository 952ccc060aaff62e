"""Evaluation metrics, each cross-checked against its reference implementation.

Feature-based (numpy, float64, on features from an extractor): the Fréchet distance of streamed
feature statistics (FID), KID, the Inception Score, precision/recall/density/coverage.
Image-based (JAX, per image of an NHWC batch): SSIM, MS-SSIM, PSNR.
"""

from jaxgen.metrics.image import MS_SSIM_WEIGHTS, ms_ssim, ms_ssim_scales, psnr, ssim
from jaxgen.metrics.inception_score import inception_score
from jaxgen.metrics.kid import kid, mmd2_unbiased
from jaxgen.metrics.prdc import PRDC, prdc
from jaxgen.metrics.stats import FeatureStats, frechet_distance

__all__ = [
    "FeatureStats", "MS_SSIM_WEIGHTS", "PRDC", "frechet_distance", "inception_score", "kid",
    "mmd2_unbiased", "ms_ssim", "ms_ssim_scales", "prdc", "psnr", "ssim",
]
