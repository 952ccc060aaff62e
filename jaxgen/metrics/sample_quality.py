"""Sample quality: generated and real images through one feature extractor, then FID, KID, IS,
precision/recall/density/coverage and the class accuracy of conditional samples.

An extractor maps float images [B, H, W, C] in [0, 1] to (features [B, F], logits [B, K]):
- "inception": the FID InceptionV3 (jaxgen.metrics.inception; pool3 features, and the logits
  without bias for the Inception Score), from the weights `python -m jaxgen.metrics.inception
  fetch` caches (pool3 only: no logits, so no Inception Score) or converted pytorch-fid weights
  the user names (with logits);
- "domain": the classifier jaxgen ships for the dataset (jaxgen.metrics.domain), for
  "FID (domain)" where the Inception weights are not available. Its numbers compare only with
  other numbers from the same extractor.
Real images' features are cached on disk, keyed by dataset, split, count, padding and extractor.
"""

import hashlib
import os
from typing import Callable, Iterable, NamedTuple

import jax
import numpy as np

from jaxgen import progress
from jaxgen.data.preprocess import pad_to as data_pad_to
from jaxgen.images import to_uint8
from jaxgen.metrics.inception_score import inception_score
from jaxgen.metrics.kid import SUBSET_SIZE as KID_SUBSET_SIZE, kid
from jaxgen.metrics.prdc import PRDC, prdc
from jaxgen.metrics.stats import FeatureStats, frechet_distance

DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "jaxgen", "reference_features")
# The scores `score` returns for each metric (conditional samples add "class_accuracy").
SCORES = {"fid": ("fid",), "kid": ("kid", "kid_std"), "is": ("is", "is_std"), "pr": PRDC._fields}


class Extractor(NamedTuple):
  fn: Callable[[jax.Array], tuple[jax.Array, jax.Array]]
  name: str  # part of the cache key: which network, which weights
  has_logits: bool = True  # False: fn's logits are [B, 0] (no Inception Score, class accuracy)
  # True where the logits are over the dataset's own classes (the domain classifiers): only
  # then is their argmax a class accuracy of conditional samples.
  dataset_classes: bool = False


class Features(NamedTuple):
  stats: FeatureStats
  features: np.ndarray  # float32 [N, F], for KID and precision/recall
  logits: np.ndarray    # float32 [N, K]; K = 0 from an extractor without logits


def make_extractor(kind: str, *, dataset: str, inception_weights: str | None) -> Extractor:
  """The extractor `kind`; for "inception", the weights at `inception_weights`, or when it is
  empty the fetched ones (FileNotFoundError saying what to run when they are not)."""
  if kind == "inception":
    from jaxgen.metrics import inception
    path = inception_weights or inception.fetched_weights()
    variables = inception.load_variables(path)
    net = inception.extractor(variables)
    has_logits = inception.has_logits(variables)

    def fn(images):
      out = net(images)
      if not has_logits:
        return out.pool3, np.zeros((out.pool3.shape[0], 0), np.float32)
      return out.pool3, out.logits_unbiased
    with open(path, "rb") as f:
      digest = hashlib.sha256(f.read()).hexdigest()[:12]
    return Extractor(fn, f"inception-{digest}", has_logits)
  if kind == "domain":
    from jaxgen.metrics import domain
    base = dataset.split(":")[0]
    return Extractor(domain.load_domain_extractor(base),
                     f"domain-{base}-{domain.info(base)['step']}", dataset_classes=True)
  raise ValueError(f"unknown extractor {kind!r}; expected inception or domain")


def describe(extractor: Extractor) -> str:
  """The extractor's kind, for progress bars: "Inception", "domain", or a custom one's name."""
  kind = extractor.name.split("-")[0]
  return "Inception" if kind == "inception" else kind


def extract(extractor: Extractor, batches: Iterable[np.ndarray], *, total: int | None = None,
            desc: str | None = None) -> Features:
  """Features of float image batches in [0, 1], streamed into float64 statistics. Images are
  first quantised to 8 bits as a saved PNG would be (clean-fid's point): real images reach the
  extractor as 8-bit values, so generated ones must too, and a score does not depend on
  whether the samples were scored in memory or from files. A progress bar `desc` counts the
  images against `total` (when known)."""
  stats, feats, logits = None, [], []
  desc = desc or f"{describe(extractor)} features"
  for images in progress.track(batches, total=total, desc=desc):
    images = np.asarray(images, np.float32)
    if images.min() < 0.0 or images.max() > 1.0:
      raise ValueError(f"images must be floats in [0, 1], got values in "
                       f"[{images.min():.3g}, {images.max():.3g}]")
    images = to_uint8(images).astype(np.float32) / 255.0
    f, l = jax.device_get(extractor.fn(images))
    stats = FeatureStats.of(f) if stats is None else stats.update(f)
    feats.append(np.asarray(f, np.float32))
    logits.append(np.asarray(l, np.float32))
  if stats is None:
    raise ValueError("no images to extract features from")
  return Features(stats, np.concatenate(feats), np.concatenate(logits))


def real_features(extractor: Extractor, images_uint8: np.ndarray, *, key: str, pad_to: int,
                  batch_size: int, cache_dir: str = DEFAULT_CACHE) -> Features:
  """Features of a dataset split's uint8 images, padded with black to `pad_to` as training
  pads them (0: as stored); cached in `cache_dir` under `key` (dataset, split, count) and the
  extractor."""
  name = f"{key}_n{len(images_uint8)}_pad{pad_to}_{extractor.name}.npz".replace("/", "_")
  path = os.path.join(cache_dir, name)
  if os.path.exists(path):
    with np.load(path) as f:
      return Features(FeatureStats(int(f["count"]), f["mean"], f["scatter"]), f["features"],
                      f["logits"])

  def batches():
    for i in range(0, len(images_uint8), batch_size):
      x = images_uint8[i:i + batch_size]
      yield (data_pad_to(x, pad_to) if pad_to else x).astype(np.float32) / 255.0

  out = extract(extractor, batches(), total=len(images_uint8),
                desc=f"{describe(extractor)} features of {len(images_uint8)} real images, {key}")
  os.makedirs(cache_dir, exist_ok=True)
  tmp = path + ".tmp.npz"  # written whole, then renamed: a crash leaves no half cache
  np.savez(tmp, count=out.stats.count, mean=out.stats.mean, scatter=out.stats.scatter,
           features=out.features, logits=out.logits)
  os.replace(tmp, path)
  return out


def kid_subset_size(fake: Features, real: Features) -> int:
  """The reference's 1000, or the smaller set's size when fewer samples are scored (KID is
  unbiased whatever the subset size; smaller subsets only make it noisier)."""
  return min(KID_SUBSET_SIZE, len(fake.features), len(real.features))


def check_logits(metrics: Iterable[str], has_logits: bool) -> None:
  """The Inception Score needs logits: a ValueError saying which weights have them."""
  if "is" in metrics and not has_logits:
    from jaxgen.metrics import inception
    raise ValueError(
        "is: the Inception Score needs the Inception logits, which the fetched FID Inception "
        "weights (pool3 only) do not have; use pytorch-fid's weights: download "
        f"{inception.WEIGHTS_URL}, convert them with `python -m jaxgen.metrics.inception convert "
        "PTH NPZ` and pass --inception_weights NPZ (config.eval.inception_weights in training)")


def score(metrics: Iterable[str], fake: Features, real: Features, *, seed: int = 0,
          labels: np.ndarray | None = None) -> dict[str, float]:
  """The requested feature metrics of generated against real features. With `labels` (the
  classes conditional samples were drawn for), also their class accuracy under the extractor,
  if it has logits. `is` from features without logits is a ValueError."""
  metrics, out = set(metrics), {}
  has_logits = fake.logits.shape[1] > 0
  check_logits(metrics, has_logits)
  if "fid" in metrics:
    out["fid"] = frechet_distance(real.stats.mean, real.stats.cov, fake.stats.mean, fake.stats.cov)
  if "kid" in metrics:
    out["kid"], out["kid_std"] = kid(real.features, fake.features, rng=seed,
                                     subset_size=kid_subset_size(fake, real))
  if "is" in metrics:
    splits = 10 if len(fake.logits) >= 10 else 1
    out["is"], out["is_std"] = inception_score(fake.logits, from_logits=True, num_splits=splits)
  if "pr" in metrics:
    out.update(prdc(real.features, fake.features, k=3)._asdict())
  if labels is not None and has_logits:
    out["class_accuracy"] = float(np.mean(np.argmax(fake.logits, -1) == labels))
  return out


def score_images(metrics: Iterable[str], extractor: Extractor, fake_batches: Iterable[np.ndarray],
                 real_uint8: np.ndarray, *, key: str, pad_to: int, batch_size: int,
                 cache_dir: str = DEFAULT_CACHE, seed: int = 0,
                 labels: np.ndarray | None = None,
                 num_samples: int | None = None) -> tuple[dict, dict[str, float]]:
  """`score` of generated float batches (`num_samples` images, for the progress bar) against a
  split's uint8 images (features cached, see `real_features`); also returns what was compared:
  extractor name, both counts and KID's subset size."""
  metrics = list(metrics)
  check_logits(metrics, extractor.has_logits)  # before minutes of feature extraction
  real = real_features(extractor, real_uint8, key=key, pad_to=pad_to, batch_size=batch_size,
                       cache_dir=cache_dir)
  count = "" if num_samples is None else f"{num_samples} "
  fake = extract(extractor, fake_batches, total=num_samples,
                 desc=f"{describe(extractor)} features of {count}samples")
  info = {"extractor": extractor.name, "num_samples": len(fake.features),
          "num_real": len(real.features)}
  if "kid" in metrics:
    info["kid_subset_size"] = kid_subset_size(fake, real)
  return info, score(metrics, fake, real, seed=seed, labels=labels)
