"""A small CNN image classifier whose penultimate layer doubles as a domain feature extractor.

`(x [B, H, W, C], *, train) -> (logits [B, num_classes], features [B, feature_dim])`. Each stage
is conv-BN-ReLU ×`convs_per_stage` then 2×2 max pooling, so 28×28 and 32×32 inputs (any C)
both work; `features` is the ReLU of the dense layer before the classifier head, the
vector "FID (domain)" compares. Batch statistics live in "batch_stats" (apply with
`mutable=["batch_stats"]` when train=True); dropout, before the head only, needs a "dropout" rng
when train=True.
"""

from typing import Sequence

import flax.linen as nn
import jax
import ml_collections

from jaxgen.types import ModelSpec


def max_pool_2x2(x: jax.Array) -> jax.Array:
  """`nn.max_pool(x, (2, 2), strides=(2, 2))` (an odd last row / column is dropped) as a
  reshape and max: its gradient is 3-4x faster on XLA:CPU than max_pool's select-and-scatter,
  which dominated the training step."""
  batch, height, width, channels = x.shape
  x = x[:, :height // 2 * 2, :width // 2 * 2]
  return x.reshape(batch, height // 2, 2, width // 2, 2, channels).max(axis=(2, 4))


class Classifier(nn.Module):
  features: Sequence[int]  # conv width of each stage
  convs_per_stage: int
  feature_dim: int
  num_classes: int
  dropout: float

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, jax.Array]:
    h = x
    for width in self.features:
      for _ in range(self.convs_per_stage):
        h = nn.Conv(width, (3, 3), use_bias=False)(h)
        h = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h))
      h = max_pool_2x2(h)
    h = nn.Dense(self.feature_dim, use_bias=False)(h.reshape(h.shape[0], -1))
    features = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h))
    h = nn.Dropout(self.dropout, deterministic=not train)(features)
    return nn.Dense(self.num_classes)(h), features


def default_config() -> ml_collections.ConfigDict:
  """The keys `make` reads: conv-pool ×2 (32, 64) + a 128-d dense layer. A second conv per
  stage (convs_per_stage=2) costs 2.5x the step time on CPU."""
  return ml_collections.ConfigDict(dict(features=(32, 64), convs_per_stage=1, feature_dim=128,
                                        dropout=0.3))


def make(c: ml_collections.ConfigDict, spec: ModelSpec) -> Classifier:
  """The classifier of a `model` config over spec.num_classes classes."""
  return Classifier(features=tuple(c.features), convs_per_stage=c.convs_per_stage,
                    feature_dim=c.feature_dim, num_classes=spec.num_classes, dropout=c.dropout)
