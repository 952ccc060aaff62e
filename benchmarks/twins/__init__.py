"""Plain PyTorch twins of jaxgen's model families, for benchmarks/speed.py.

A twin is an eager PyTorch training loop with the layers, shapes, batch, optimizer and loss of
one jaxgen config's default variant: `make(config, shape, padding)` in the module named after
`config.method` (vae, gan, autoregressive, draw, classifier, as jaxgen/methods/ is laid out).
Layouts are each framework's own (NHWC in jaxgen, NCHW here); initial values and the random
numbers drawn differ, the work per step does not. Each twin counts its trainable parameters per
network, under jaxgen's names for them, so the benchmark can check them against jaxgen's.
"""

import importlib
from typing import Callable, NamedTuple

import ml_collections
import torch


class Twin(NamedTuple):
  """One family's PyTorch training update, ready to run on a fixed in-memory batch."""
  step: Callable[[], torch.Tensor]  # one full update; returns the loss (a 0-d tensor)
  params: dict[str, int]            # trainable parameters per network, keyed as jaxgen's state
  differences: str                  # deliberate differences from jaxgen's step ("" if none)


def make(config: ml_collections.ConfigDict, shape: tuple[int, int, int],
         padding: tuple[tuple[int, int], tuple[int, int]]) -> Twin:
  """The twin of `config`'s method for images of `shape` (H, W, C after padding; `padding` as
  jaxgen.types.DataSpec.padding)."""
  return importlib.import_module(f"twins.{config.method}").make(config, shape, padding)
