"""GAN speed against plain PyTorch: train images/s of one full D + G update, same layers, same batch.

  pip install -e '.[bench]'          # torch 2.13.0 (CPU), only for this script
  python benchmarks/gan.py [--steps 60] [--rounds 3] [--out benchmarks/results/gan.json]

Models: the reference DCGAN of configs/dcgan_fashion_mnist.py (32x32x1, base width 64, batch
64) and the classic MLP GAN of configs/mlp_gan_mnist.py (28x28, batch 64), both with the
non-saturating loss and Adam 2e-4 / β1 0.5 for each player.

One update = one D step on the batch of real images against as many fresh fakes, then one G
step on fresh latents (jaxgen's n_critic=1 order; the usual PyTorch loop). jaxgen times the
method's `train_step`, jitted once with the state donated; PyTorch times the eager loop. Both
read a fixed real batch already in memory, so neither measures data loading.

Each measurement runs in a fresh process, alternating between the frameworks for --rounds
rounds; a process reports the median images/s over intervals of 10 steps after a warm-up, and
the figure is the median over rounds. jaxgen runs twice for the DCGAN: with its default CPU XLA
flags (jaxgen/__init__.py) and with XLA's own defaults (JAXGEN_XLA_DEFAULTS=0), so the flag's
effect is re-measured on every machine this runs on.
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {"dcgan": "dcgan_fashion_mnist", "mlp": "mlp_gan_mnist"}
SHAPES = {"dcgan": (32, 32, 1), "mlp": (28, 28, 1)}  # after preprocessing (Fashion-MNIST padded)
INTERVAL = 10

flags.DEFINE_integer("steps", 60, "Steps per process (after 3 warm-up steps).")
flags.DEFINE_integer("rounds", 3, "Rounds of one process per framework (and variant).")
flags.DEFINE_string("out", os.path.join(ROOT, "benchmarks", "results", "gan.json"), "Output JSON.")
flags.DEFINE_enum("part", None, ["jax", "torch"], "Internal: a child process's framework.")
flags.DEFINE_enum("model", None, sorted(CONFIGS), "Internal: a child process's model.")
FLAGS = flags.FLAGS


def _median_rate(step, batch_size, steps, sync):
  """Median images/s over intervals of INTERVAL steps, after 3 warm-up steps."""
  for _ in range(3):
    step()
  sync()
  rates = []
  for _ in range(max(1, steps // INTERVAL)):
    t = time.perf_counter()
    for _ in range(INTERVAL):
      step()
    sync()
    rates.append(INTERVAL * batch_size / (time.perf_counter() - t))
  return float(np.median(rates))


def jax_rate(model, steps):
  sys.path.insert(0, ROOT)
  import jax
  import importlib.util
  from jaxgen import runtime
  from jaxgen.methods import gan
  from jaxgen.types import DataSpec
  runtime.setup()

  path = os.path.join(ROOT, "configs", f"{CONFIGS[model]}.py")
  spec = importlib.util.spec_from_file_location("config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config("")
  method = gan.make(config, DataSpec(SHAPES[model], 10))
  b = config.batch_size
  low = -1.0 if config.data.preprocess == "scale11" else 0.0
  batch = {"image": jax.random.uniform(jax.random.key(0), (b, *SHAPES[model]), minval=low),
           "label": jax.numpy.zeros((b,), jax.numpy.int32)}
  train_step = jax.jit(method.train_step, donate_argnums=0)
  state = jax.jit(method.init)(jax.random.key(1), batch)
  key = jax.random.key(2)
  holder = [state]

  def step():
    holder[0], _ = train_step(holder[0], batch, key)

  return _median_rate(step, b, steps, lambda: jax.block_until_ready(holder[0]))


def torch_rate(model, steps):
  import torch
  from torch import nn

  torch.manual_seed(0)
  torch.set_num_threads(os.cpu_count())
  b, z_dim = 64, 100
  if model == "dcgan":
    def up(i, o, bias=False):
      return nn.ConvTranspose2d(i, o, 4, 2, 1, bias=bias)

    class Reshape(nn.Module):
      def forward(self, x):
        return x.view(-1, 256, 4, 4)

    # jaxgen's layers exactly: the 1x1 -> 4x4 first layer as a dense layer, no bias before BN.
    g = nn.Sequential(nn.Linear(z_dim, 4 * 4 * 256, bias=False), Reshape(), nn.BatchNorm2d(256),
                      nn.ReLU(), up(256, 128), nn.BatchNorm2d(128), nn.ReLU(), up(128, 64),
                      nn.BatchNorm2d(64), nn.ReLU(), up(64, 1, bias=True), nn.Tanh())
    d = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128),
                      nn.LeakyReLU(0.2), nn.Conv2d(128, 256, 4, 2, 1, bias=False),
                      nn.BatchNorm2d(256), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4096, 1))
    real = torch.rand(b, 1, 32, 32) * 2 - 1
  else:
    g = nn.Sequential(nn.Linear(z_dim, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(),
                      nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 784), nn.Sigmoid())
    d = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256),
                      nn.ReLU(), nn.Linear(256, 1))
    real = torch.rand(b, 784)
  opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
  opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
  bce = nn.BCEWithLogitsLoss()
  ones, zeros = torch.ones(b, 1), torch.zeros(b, 1)

  def step():
    opt_d.zero_grad(set_to_none=True)
    fake = g(torch.randn(b, z_dim)).detach()
    loss_d = bce(d(real), ones) + bce(d(fake), zeros)
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad(set_to_none=True)
    loss_g = bce(d(g(torch.randn(b, z_dim))), ones)  # non-saturating
    loss_g.backward()
    opt_g.step()

  return _median_rate(step, b, steps, lambda: None)


def _measure(framework, model, steps, env):
  cmd = [sys.executable, __file__, "--part", framework, "--model", model, "--steps", str(steps)]
  out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, check=False)
  if out.returncode:
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
  return json.loads(out.stdout.strip().splitlines()[-1])["images_per_sec"]


def _cpu_name():
  try:
    for line in open("/proc/cpuinfo"):
      if line.startswith("model name"):
        return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if FLAGS.part:  # a child process: one measurement
    rate = (jax_rate if FLAGS.part == "jax" else torch_rate)(FLAGS.model, FLAGS.steps)
    print(json.dumps({"images_per_sec": rate}))
    return

  try:
    import torch
  except ImportError:
    sys.exit("benchmarks/gan.py compares with PyTorch: pip install -e '.[bench]' (torch 2.13.0)")
  import jax
  sys.path.insert(0, ROOT)
  from jaxgen import runtime
  cache = tempfile.mkdtemp(prefix="jaxgen_bench_xla_")  # compile once per variant, not per round
  jax_env = {"JAX_COMPILATION_CACHE_DIR": cache, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
  results = {}
  for model in ("dcgan", "mlp"):
    runs = {"jaxgen": [], "pytorch": []}
    if model == "dcgan":
      runs["jaxgen_xla_defaults"] = []
    for r in range(FLAGS.rounds):
      for name in runs:
        if name == "pytorch":
          rate = _measure("torch", model, FLAGS.steps, {})
        else:
          flag = "0" if name == "jaxgen_xla_defaults" else "1"
          rate = _measure("jax", model, FLAGS.steps, {**jax_env, "JAXGEN_XLA_DEFAULTS": flag})
        runs[name].append(rate)
        print(f"{model} round {r}: {name} {rate:,.0f} images/s", flush=True)
    medians = {name: float(np.median(v)) for name, v in runs.items()}
    results[model] = {"images_per_sec": medians, "rounds": runs,
                      "ratio_jaxgen_to_pytorch": medians["jaxgen"] / medians["pytorch"]}
  results["setup"] = {"batch_size": 64, "steps_per_process": FLAGS.steps, "rounds": FLAGS.rounds,
                      "cpu": _cpu_name(), "cpu_count": os.cpu_count(), "jax": jax.__version__,
                      "torch": torch.__version__,
                      "jaxgen_cpu_xla_flags": " ".join(runtime.CPU_XLA_DEFAULTS)}
  os.makedirs(os.path.dirname(FLAGS.out), exist_ok=True)
  with open(FLAGS.out, "w") as f:
    json.dump(results, f, indent=2)
  for model in ("dcgan", "mlp"):
    m = results[model]
    print(f"{model}: jaxgen {m['images_per_sec']['jaxgen']:,.0f} images/s, PyTorch "
          f"{m['images_per_sec']['pytorch']:,.0f} images/s: {m['ratio_jaxgen_to_pytorch']:.2f}x")
  print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
  app.run(main)
