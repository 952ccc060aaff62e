"""Re-measures jaxgen's default CPU XLA flags (jaxgen.runtime.CPU_XLA_DEFAULTS) on this machine.

  python benchmarks/xla_flags.py [--out benchmarks/results/xla_flags.json]

Times a convolution's forward pass and both gradients (input and kernel), jitted, batch 64,
NHWC, for layer shapes of jaxgen's models, once with jaxgen's defaults and once with XLA's own
(JAXGEN_XLA_DEFAULTS=0), each in a fresh process because XLA reads its flags once. Reports the
median of 10 calls after a warm-up, in ms, and the speed-up of the defaults.
"""

import json
import os
import subprocess
import sys
import time

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (name, H = W, in channels, out channels, kernel, stride)
LAYERS = [
    ("conv 3x3, 28x28, 64->64 (PixelCNN-like body)", 28, 64, 64, 3, 1),
    ("conv 7x7, 28x28, 1->64 (PixelCNN-like input)", 28, 1, 64, 7, 1),
    ("conv 3x3, 32x32, 128->128", 32, 128, 128, 3, 1),
    ("conv 4x4 stride 2, 16x16, 64->128 (DCGAN D)", 16, 64, 128, 4, 2),
]


flags.DEFINE_string("out", os.path.join(ROOT, "benchmarks", "results", "xla_flags.json"),
                    "Output JSON.")
flags.DEFINE_bool("child", False, "Internal: a child process, which measures once.")
FLAGS = flags.FLAGS


def measure():
  sys.path.insert(0, ROOT)
  from jaxgen import runtime
  runtime.setup()  # the flags, before the backend starts
  import jax
  import jax.numpy as jnp
  import numpy as np

  times = {}
  for name, size, c_in, c_out, k, stride in LAYERS:
    x = jax.random.normal(jax.random.key(0), (64, size, size, c_in))
    w = jax.random.normal(jax.random.key(1), (k, k, c_in, c_out)) * 0.05

    def loss(x, w):
      y = jax.lax.conv_general_dilated(x, w, (stride, stride), "SAME",
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
      return jnp.sum(y * y)

    f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    jax.block_until_ready(f(x, w))
    calls = []
    for _ in range(10):
      t = time.perf_counter()
      jax.block_until_ready(f(x, w))
      calls.append(time.perf_counter() - t)
    times[name] = 1000 * float(np.median(calls))
  return times


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if FLAGS.child:
    print(json.dumps(measure()))
    return
  runs = {}
  for setting, value in (("jaxgen_defaults", "1"), ("xla_defaults", "0")):
    out = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True,
                         env={**os.environ, "JAXGEN_XLA_DEFAULTS": value}, check=True)
    runs[setting] = json.loads(out.stdout.strip().splitlines()[-1])
  sys.path.insert(0, ROOT)
  from jaxgen import runtime
  results = {"flags": list(runtime.CPU_XLA_DEFAULTS), "ms": runs,
             "speedup": {k: runs["xla_defaults"][k] / runs["jaxgen_defaults"][k] for k in runs["xla_defaults"]}}
  os.makedirs(os.path.dirname(FLAGS.out), exist_ok=True)
  with open(FLAGS.out, "w") as f:
    json.dump(results, f, indent=2)
  for name in runs["xla_defaults"]:
    print(f"{name}: {runs['jaxgen_defaults'][name]:.1f} ms with jaxgen's flags, "
          f"{runs['xla_defaults'][name]:.1f} ms with XLA's ({results['speedup'][name]:.2f}x)")
  print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
  app.run(main)
