"""Model families as `Method`s, chosen by `config.method`."""

import logging

import ml_collections

from jaxgen import config as config_lib, registry
from jaxgen.methods import autoregressive, classifier, draw, gan, vae
from jaxgen.methods.base import Method
from jaxgen.types import DataSpec

METHODS = {"autoregressive": autoregressive.make, "classifier": classifier.make, "draw": draw.make,
           "gan": gan.make, "vae": vae.make}
DEFAULTS = {"autoregressive": autoregressive.default_method_config,
            "classifier": classifier.default_method_config, "draw": draw.default_method_config,
            "gan": gan.default_method_config, "vae": vae.default_method_config}


def with_defaults(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """A copy of `config` with every key that jaxgen's base config or the method's defaults (for
  the model config.model.name names) declare and `config` lacks: a workdir's config.json
  written before the key existed. New keys default to the behavior from before them, so old
  runs sample and evaluate as they did."""
  defaults = config_lib.base()
  if config.method in DEFAULTS:
    model = config.get("model", {}).get("name")  # the classifier's model has no name
    defaults.update(DEFAULTS[config.method](*([model] if model else [])))
  out = config.copy_and_resolve_references()
  added = []

  def fill(target, source, prefix):
    for key, value in source.items():
      if key not in target:
        with target.unlocked():
          target[key] = value
        added.append(prefix + key)
      elif isinstance(value, ml_collections.ConfigDict) and isinstance(
          target[key], ml_collections.ConfigDict):
        fill(target[key], value, f"{prefix}{key}.")
  fill(out, defaults, "")
  if added:
    logging.info("config lacks %s: using the defaults", ", ".join(added))
  return out


def get(config: ml_collections.ConfigDict, spec: DataSpec) -> Method:
  """The method `config.method` names (or a "module:make" path), built for `spec`."""
  return registry.resolve(config.method, METHODS, kind="method")(config, spec)
