"""Evaluation figures for the README: feature-extractor images/s and the time of each metric.

  python benchmarks/evaluate.py --out benchmarks/results/evaluate.json

Extractors, compile excluded (one untimed batch first), on Fashion-MNIST test images:
- "domain": the shipped Fashion-MNIST classifier, --domain_num images in batches of
  --domain_batch (jaxgen.evaluate's default batch);
- "inception": the FID InceptionV3 (resize to 299, 2048-d pool3), --inception_num images in
  batches of --inception_batch. Its speed does not depend on the weights' values, so without
  the real weights (--inception_weights) it runs on random ones.
Metrics, from features already extracted, at the usual protocol's sizes (--metric_num samples
per set): FID (float64 statistics of both sets, then the Fréchet distance), KID (100 subsets of
1000), precision/recall/density/coverage (k = 3), the Inception Score (10 splits over 1008
logits), for the domain features (128-d) and the Inception pool3 size (2048-d; random
features: the time depends only on the shapes).
"""

import json
import os
import sys
import time

import jax
import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jaxgen import data, metrics  # noqa: E402
from jaxgen import runtime  # noqa: E402
from jaxgen.metrics import domain, inception  # noqa: E402

runtime.setup()

flags.DEFINE_integer("domain_num", 10_000, "Images through the domain extractor.")
flags.DEFINE_integer("domain_batch", 500, "The domain extractor's batch.")
flags.DEFINE_integer("inception_num", 500, "Images through the FID Inception.")
flags.DEFINE_integer("inception_batch", 50, "The FID Inception's batch.")
flags.DEFINE_string("inception_weights", None, "FID Inception weights (.npz); default random ones.")
flags.DEFINE_integer("metric_num", 10_000, "Samples per set for the metrics' times.")
flags.DEFINE_string("out", "benchmarks/results/evaluate.json", "Output JSON.")
FLAGS = flags.FLAGS


def images_per_sec(fn, images, batch_size):
  """Throughput of fn over `images` in batches, after one untimed (compiling) batch."""
  jax.block_until_ready(fn(images[:batch_size]))
  start = time.perf_counter()
  for i in range(0, len(images) - batch_size + 1, batch_size):
    jax.block_until_ready(fn(images[i:i + batch_size]))
  count = (len(images) // batch_size) * batch_size
  return count / (time.perf_counter() - start)


def seconds(fn):
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def inception_extractor(weights):
  if weights:
    return inception.load_extractor(weights)
  net = inception.InceptionV3()
  variables = jax.jit(net.init)(jax.random.key(0), np.zeros((1, 299, 299, 3), np.float32))
  return jax.jit(lambda images: net.apply(variables, images))


def metric_seconds(dim, num, rng):
  real = rng.normal(size=(num, dim)).astype(np.float32)
  fake = (0.1 + rng.normal(size=(num, dim))).astype(np.float32)
  logits = rng.normal(size=(num, 1008))

  def fid():
    a, b = metrics.FeatureStats.of(real), metrics.FeatureStats.of(fake)
    return metrics.frechet_distance(a.mean, a.cov, b.mean, b.cov)

  return {"fid": seconds(fid), "kid": seconds(lambda: metrics.kid(real, fake, rng=0)),
          "pr": seconds(lambda: metrics.prdc(real, fake, k=3)),
          "is": seconds(lambda: metrics.inception_score(logits, from_logits=True))}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  images = data.load("fashion_mnist", "test").images.astype(np.float32) / 255.0
  results = {
      "devices": str(jax.devices()),
      "domain_images_per_sec": images_per_sec(
          domain.load_domain_extractor("fashion_mnist"), images[:FLAGS.domain_num],
          FLAGS.domain_batch),
      "inception_images_per_sec": images_per_sec(
          inception_extractor(FLAGS.inception_weights), images[:FLAGS.inception_num],
          FLAGS.inception_batch),
      "inception_weights": FLAGS.inception_weights or "random",
      "metric_num": FLAGS.metric_num,
  }
  rng = np.random.default_rng(0)
  for name, dim in (("domain", 128), ("inception", 2048)):
    results[f"metric_seconds_{name}_{dim}d"] = metric_seconds(dim, FLAGS.metric_num, rng)
  print(json.dumps(results, indent=2))
  os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
  with open(FLAGS.out, "w") as f:
    json.dump(results, f, indent=2, sort_keys=True)


if __name__ == "__main__":
  app.run(main)
