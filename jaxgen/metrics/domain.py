"""Domain feature extractors: the classifiers jaxgen trains (configs/classifier_*.py) and ships
in jaxgen/metrics/weights, for "FID (domain)" and the class accuracy of conditional samples.
They give meaningful numbers where the Inception weights are not available.

Each extractor is `weights/classifier_<name>.npz` (the Flax variables, flattened with "/") and
`weights/classifier_<name>.json` (architecture, provenance and test accuracy), written by

  python -m jaxgen.tools.export_classifier --workdir runs/classifier_<name> --name <name>

Expected input: float images [B, H, W, 1] in [0, 1] (pixel / 255, the "scale01" preprocessing,
white digits or garments on black, as in the datasets), 28×28 as the datasets store them, or
32×32 as `data.pad_to=32` configs produce them: the 2-pixel border is cropped off, the inverse
of that zero padding. Shapes and dtype are checked at trace time; the value range cannot be
(a jitted function sees no values), so [-1, 1] or 0..255 images must be rescaled by the caller.
"""

import json
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from jaxgen.models import classifier as classifier_models
from jaxgen.types import ConfigError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
NAMES = ("fashion_mnist", "mnist")  # the datasets with shipped weights
PADDED_SIZE = 32  # accepted and cropped back to the trained size (data.pad_to=32)

Extractor = Callable[[jax.Array], tuple[jax.Array, jax.Array]]


def weight_paths(name: str) -> tuple[Path, Path]:
  """The (.npz variables, .json metadata) files of extractor `name` in WEIGHTS_DIR."""
  if name not in NAMES:  # a usage error: the dataset a config or --dataset names
    raise ConfigError(f"no domain extractor for {name!r}; expected one of {NAMES}")
  stem = WEIGHTS_DIR / f"classifier_{name}"
  return stem.with_suffix(".npz"), stem.with_suffix(".json")


def info(name: str) -> dict:
  """The metadata of extractor `name`: dataset, split, accuracy, nll, step, config, ..."""
  with open(weight_paths(name)[1]) as f:
    return json.load(f)


def load_domain_extractor(name: str) -> Extractor:
  """A jitted function: images [B, H, W, C] in [0, 1] -> (features [B, feature_dim] float32,
  logits [B, num_classes] float32) of the shipped classifier for dataset `name` (see NAMES);
  the features are the ReLU outputs of its penultimate layer. Batch norm uses its running
  statistics, so each image's outputs do not depend on the rest of the batch."""
  weights, _ = weight_paths(name)
  meta = info(name)
  model = classifier_models.Classifier(num_classes=meta["num_classes"], **{
      **meta["model"], "features": tuple(meta["model"]["features"])})
  with np.load(weights) as f:
    variables = traverse_util.unflatten_dict({k: jnp.asarray(v) for k, v in f.items()}, sep="/")
  height, width, channels = meta["image_shape"]

  def extract(images: jax.Array) -> tuple[jax.Array, jax.Array]:
    if images.ndim != 4 or images.shape[3] != channels or images.shape[1:3] not in (
        (height, width), (PADDED_SIZE, PADDED_SIZE)):
      raise ValueError(
          f"domain extractor {name!r} takes images [B, {height}, {width}, {channels}] or "
          f"[B, {PADDED_SIZE}, {PADDED_SIZE}, {channels}] (zero-padded), got {images.shape}")
    if not jnp.issubdtype(images.dtype, jnp.floating):
      raise ValueError(f"domain extractor {name!r} takes float images in [0, 1], got "
                       f"{images.dtype}; divide uint8 pixels by 255")
    top, left = (images.shape[1] - height) // 2, (images.shape[2] - width) // 2
    x = images[:, top:top + height, left:left + width].astype(jnp.float32)
    logits, features = model.apply(variables, x, train=False)
    return features, logits

  return jax.jit(extract)
