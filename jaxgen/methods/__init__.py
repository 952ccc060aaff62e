"""Model families as `Method`s, chosen by `config.method`."""

import ml_collections

from jaxgen import registry
from jaxgen.methods import autoregressive, classifier, draw, gan, vae
from jaxgen.methods.base import Method
from jaxgen.types import DataSpec

METHODS = {"autoregressive": autoregressive.make, "classifier": classifier.make, "draw": draw.make,
           "gan": gan.make, "vae": vae.make}


def get(config: ml_collections.ConfigDict, spec: DataSpec) -> Method:
  """The method `config.method` names (or a "module:make" path), built for `spec`."""
  return registry.resolve(config.method, METHODS, kind="method")(config, spec)
