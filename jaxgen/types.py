"""Types shared across layers (models, methods, the trainer). A leaf: imports nothing from jaxgen,
so any layer may import it without pulling in another."""

from typing import NamedTuple


class ConfigError(ValueError):
  """A usage error: a config key or value, or a flag, that cannot work (the user's input, not a
  failure of a file or a computation). The command-line tools (jaxgen.cli) print its one-line
  message and exit with status 2. Raised before anything is compiled: by
  `jaxgen.config.validate`, by the data sources for an unknown dataset or split, and for a
  method or evaluator that a config cannot build."""


class DataSpec(NamedTuple):
  """What a method needs to know about its data to build its networks."""
  image_shape: tuple[int, ...]  # (H, W, C) after preprocessing (padding included); (2,) for points
  num_classes: int
  # ((top, bottom), (left, right)) rows and columns of `image_shape` that data.pad_to added:
  # not pixels of the data, so likelihoods must leave them out (see methods.base.real_pixels).
  padding: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))


class ModelSpec(NamedTuple):
  """What every model file's `make(config.model, spec)` builds its network for; the method
  derives it from the DataSpec and its likelihood."""
  image_shape: tuple[int, ...]  # (H, W, C) of the network's input; (2,) for points
  num_classes: int              # labels a conditional model may take (0: none)
  outputs_per_channel: int = 1  # values the network outputs per subpixel: a likelihood's
                                # parameters (1 Bernoulli logit, 256 softmax logits, ...)

  @classmethod
  def of(cls, spec: DataSpec, outputs_per_channel: int = 1) -> "ModelSpec":
    return cls(tuple(spec.image_shape), spec.num_classes, outputs_per_channel)
