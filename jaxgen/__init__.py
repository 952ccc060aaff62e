"""jaxgen: image generation research in JAX/Flax."""

import os

__version__ = "0.1.0"

# XLA reads XLA_FLAGS when the first backend starts, so this must run before any computation.
# On XLA:CPU, YNNPACK's convolutions are slower than Eigen's on the CPUs measured (DCGAN train
# step: benchmarks/gan.py), so convolutions are kept out of YNNPACK. Overridable: a value of the
# flag in XLA_FLAGS wins, and JAXGEN_XLA_DEFAULTS=0 leaves XLA_FLAGS untouched. The flag only
# concerns the CPU backend; GPU and TPU compilers ignore it.
CPU_XLA_DEFAULTS = ("--xla_cpu_experimental_ynn_fusion_type=-individual_convolution",)


def _set_xla_defaults():
  if os.environ.get("JAXGEN_XLA_DEFAULTS", "1") == "0":
    return
  flags = os.environ.get("XLA_FLAGS", "")
  for flag in CPU_XLA_DEFAULTS:
    if flag.split("=")[0] not in flags:
      flags = f"{flags} {flag}".strip()
  os.environ["XLA_FLAGS"] = flags


_set_xla_defaults()
