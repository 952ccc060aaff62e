"""SSIM, MS-SSIM and PSNR between eval images and the method's reconstructions of them."""

import jax
import numpy as np

from jaxgen import progress
from jaxgen.data import loader as loader_lib
from jaxgen.metrics import image as image_metrics
from jaxgen.run import Run

SCORES = {"ssim": image_metrics.ssim, "ms_ssim": image_metrics.ms_ssim, "psnr": image_metrics.psnr}


class Reconstruction:
  """Means over the first `num` images of `split` (-1: all; "": config.data.eval_split) of
  each score between the image and its reconstruction, data range 1."""

  def __init__(self, run: Run, *, num: int = 2_000, split: str = "", seed: int = 0):
    del seed  # reconstructions are keyed by the image's index (prng "reconstruct" streams)
    if run.reconstruct is None:
      raise ValueError(f"method {run.config.method!r} does not reconstruct images")
    self._run, self.num = run, num
    self.split = split or run.config.data.eval_split

  def metric_names(self) -> list[str]:
    return list(SCORES)

  def _count(self) -> int:
    size = len(self._run.dataset(self.split).images)
    return size if self.num < 0 else min(self.num, size)

  def batches(self, state):
    """Yields (inputs, reconstructions) of the first `num` images, in batches of
    config.eval.batch_size, as float arrays in [0, 1]."""
    ds, n = self._run.dataset(self.split), self._count()
    for raw in loader_lib.eval_batches(ds.images[:n], ds.labels[:n],
                                       self._run.config.eval.batch_size, self._run.mesh):
      pairs = np.clip(np.asarray(jax.device_get(self._run.reconstruct(state, raw))), 0.0, 1.0)
      keep = np.asarray(jax.device_get(raw["mask"]))
      yield pairs[0::2][keep], pairs[1::2][keep]

  def run(self, state) -> tuple[dict, dict[str, float]]:
    sums, n = dict.fromkeys(SCORES, 0.0), 0
    for x, y in progress.track(self.batches(state), total=self._count(),
                               desc=f"reconstructions and SSIM, {self.split} split",
                               size=lambda pair: len(pair[0])):
      for name, fn in SCORES.items():
        sums[name] += float(np.sum(fn(x, y, data_range=1.0)))
      n += len(x)
    return {"num_reconstructions": n}, {k: v / n for k, v in sums.items()}
