"""FID, KID, Inception Score, precision/recall/density/coverage (and the class accuracy of
conditional samples) of generated images against a split, through a feature extractor."""

import numpy as np

from jaxgen.metrics import sample_quality
from jaxgen.run import Run


class SampleQuality:
  """`num` samples (-1: the split's size) from `seed`, sample i from its own key, against all
  of `split` ("": config.data.eval_split); `metrics` any of fid, kid, is, pr (a comma string or
  a list); features from `extractor` ("domain" | "inception", with `inception_weights` or the
  fetched ones; or a sample_quality.Extractor), real ones cached in `cache_dir` ("": config.eval.cache_dir, or the default)."""

  def __init__(self, run: Run, *, metrics="fid", num: int = 2_000, extractor: str = "domain",
               inception_weights: str = "", split: str = "", seed: int = 0,
               batch_size: int = 0, cache_dir: str = ""):
    if run.method.sample is None:
      raise ValueError(f"method {run.config.method!r} generates no images")
    if isinstance(metrics, str):
      metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    self.metrics = list(dict.fromkeys(metrics))
    unknown = [m for m in self.metrics if m not in sample_quality.SCORES]
    if unknown or not self.metrics:
      raise ValueError(f"metrics={','.join(self.metrics)!r}; expected any of "
                       f"{', '.join(sample_quality.SCORES)}")
    self._run, self.num, self.seed = run, num, seed
    self.split = split or run.config.data.eval_split
    self.batch_size = batch_size or run.config.eval.batch_size
    self.cache_dir = cache_dir or run.config.eval.cache_dir or sample_quality.DEFAULT_CACHE
    self.extractor = extractor if isinstance(extractor, sample_quality.Extractor) else \
        sample_quality.make_extractor(extractor, dataset=run.config.data.name,
                                      inception_weights=inception_weights)
    sample_quality.check_logits(self.metrics, self.extractor.has_logits)

  @property
  def _class_accuracy(self) -> bool:
    return self._run.conditional and self.extractor.dataset_classes

  def metric_names(self) -> list[str]:
    names = [s for m in self.metrics for s in sample_quality.SCORES[m]]
    return names + ["class_accuracy"] if self._class_accuracy else names

  def run(self, state) -> tuple[dict, dict[str, float]]:
    real = self._run.dataset(self.split)
    num = len(real.images) if self.num < 0 else self.num
    batches = list(self._run.sample_batches(state, self.seed, num, self.batch_size,
                                           self._run.conditional))
    labels = np.concatenate([l for _, l in batches]) if self._run.conditional else None
    return sample_quality.score_images(
        self.metrics, self.extractor, (x for x, _ in batches), real.images,
        key=f"{self._run.config.data.name}_{self.split}", pad_to=self._run.config.data.pad_to,
        batch_size=self.batch_size, cache_dir=self.cache_dir, seed=self.seed,
        labels=labels if self._class_accuracy else None, num_samples=num)
