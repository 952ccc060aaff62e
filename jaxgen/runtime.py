"""Process-wide setup, made once by each entry point (train.py, jaxgen.sample, jaxgen.evaluate,
the tools, the benchmarks and the tests' helpers) before JAX starts a backend, as the Flax
examples' main.py does. Importing jaxgen changes no global state; a notebook calls `setup()`
itself to get the entry points' numbers.
"""

import os

import jax

# XLA reads XLA_FLAGS when the first backend starts, so `setup` must run before any computation.
# On XLA:CPU, YNNPACK's convolutions are slower than Eigen's on the CPUs measured (DCGAN train
# step: benchmarks/speed.py), so convolutions are kept out of YNNPACK. Overridable: a value of the
# flag in XLA_FLAGS wins, and JAXGEN_XLA_DEFAULTS=0 leaves XLA_FLAGS untouched. The flag only
# concerns the CPU backend; GPU and TPU compilers ignore it.
CPU_XLA_DEFAULTS = ("--xla_cpu_experimental_ynn_fusion_type=-individual_convolution",)


def set_xla_defaults() -> None:
  """Adds CPU_XLA_DEFAULTS to XLA_FLAGS where the user's flags do not set them."""
  if os.environ.get("JAXGEN_XLA_DEFAULTS", "1") == "0":
    return
  flags = os.environ.get("XLA_FLAGS", "")
  for flag in CPU_XLA_DEFAULTS:
    if flag.split("=")[0] not in flags:
      flags = f"{flags} {flag}".strip()
  os.environ["XLA_FLAGS"] = flags


def setup(distributed_config=None) -> None:
  """XLA flags; random bits independent of how arrays are sharded (1 device and N give the
  same numbers); jax.distributed when `distributed_config` (config.distributed) asks for it."""
  set_xla_defaults()
  jax.config.update("jax_threefry_partitionable", True)
  if distributed_config is not None:
    from jaxgen import distributed
    distributed.initialize(distributed_config)
