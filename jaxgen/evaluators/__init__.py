"""Evaluators, one job each, built from `config.evals` and run by the trainer and by
jaxgen.evaluate alike (as big_vision's evaluators): `likelihood` (the method's eval metrics
averaged over a split), `sample_quality` (FID, KID, IS, precision/recall of generated images),
`reconstruction` (SSIM, MS-SSIM, PSNR of eval images and their reconstructions)."""

from jaxgen.evaluators.common import TYPES, Evaluator, from_config

__all__ = ["TYPES", "Evaluator", "from_config"]
