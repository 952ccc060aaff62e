"""Train-step speed of every family's default config against a plain PyTorch twin.

  pip install -e '.[bench]'          # torch 2.13.0 (CPU), only for the twins
  python benchmarks/speed.py [--families vae,dcgan,...] [--steps 60] [--rounds 3]
  python benchmarks/speed.py --smoke # 2 steps of each side, 1 round: checks, not figures
  python benchmarks/speed.py --table # the README table from benchmarks/results/speed.json

For each family (FAMILIES: the config's default variant, or the CPU-sized one where the
default is an accelerator's job), jaxgen times the method's `train_step`, jitted once with the
state donated (`jax.jit(method.train_step, donate_argnums=0)`, lowered and compiled ahead of
time, the executable that cost analysis reads), after `jaxgen.runtime.setup()` as the entry
points run it; PyTorch times an eager training loop of the same layers, shapes,
batch, optimizer and loss (benchmarks/twins/, one module per jaxgen method), on as many threads
as JAX's CPU client uses (the cores this process may run on). Both read a fixed random batch
already in memory, in the range of the config's preprocessing, so neither measures data loading.
images/s counts the config's batch_size per train step (for WGAN-GP, 5 critic steps on 50 real
images each and a generator step).

Each measurement runs in a fresh process, alternating between the frameworks for --rounds
rounds; a process reports the median images/s over intervals of 10 steps after --warmup steps,
and the figure is the median over rounds. Families in --xla_defaults are measured a third time
with XLA's own CPU flags (JAXGEN_XLA_DEFAULTS=0), so the effect of jaxgen's default flag is
re-measured on every machine this runs on.

Also per family: the FLOPs of one jaxgen train step by XLA's cost analysis, and the achieved
fraction of this CPU's matmul peak, measured in the same run (a --peak_size² f32 matmul in JAX
and in PyTorch, in fresh processes alternating like the rest; the peak is the faster of the
two). XLA's cost analysis counts a loop body once, whatever its trip count: for the families
with scans (the pixel RNNs, DRAW) `flops_per_step` is the cost analysis of the step with every
scan unrolled (its lowered HLO), and `flops_xla_compiled` the compiled step's own figure. Both
frameworks' fractions of the peak use the jaxgen step's FLOPs (the twins do the same work). The
twins' parameters are counted per network and must equal jaxgen's (the run stops otherwise);
both sides' losses must be finite. Writes --out (JSON) after each family and prints the
markdown table.

Measure on an idle machine: PyTorch's OpenMP threads lose far more to other jobs than XLA's
thread pool does (on 2 cores at load 7-10, the MLP VAE twin ran at 3,650 images/s on one thread
and 555 on two), so the JSON records the load average before and after.
"""

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "benchmarks", "results", "speed.json")
# family -> (configs/<module>.py, its argument, what the table calls it). Every config trains on
# 28x28 grey images of 10 classes (Fashion-MNIST, or MNIST for the MLP GAN).
FAMILIES = {
    "vae": ("vae_fashion_mnist", "", "MLP VAE"),
    "conv_vae": ("vae_fashion_mnist", "conv", "conv VAE"),
    "dcgan": ("dcgan_fashion_mnist", "", "DCGAN"),
    "cgan": ("cgan_fashion_mnist", "", "conditional GAN (projection D, spectral norm, hinge)"),
    "wgan_gp": ("wgan_gp_fashion_mnist", "", "WGAN-GP (5 critic steps, gradient penalty)"),
    "mlp_gan": ("mlp_gan_mnist", "", "MLP GAN"),
    "pixelcnn": ("pixelcnn", "fashion_mnist", "PixelCNN (CPU size)"),
    "gated_pixelcnn": ("gated_pixelcnn", "fashion_mnist", "Gated PixelCNN (CPU size)"),
    "row_lstm": ("row_lstm", "fashion_mnist", "Row LSTM (CPU size)"),
    "diagonal_bilstm": ("diagonal_bilstm", "fashion_mnist", "Diagonal BiLSTM (CPU size)"),
    "row_rnn": ("row_rnn", "fashion_mnist", "row LSTM baseline (CPU size)"),
    "draw": ("draw_fashion_mnist", "", "DRAW with attention (T=16)"),
    "classifier": ("classifier_fashion_mnist", "", "classifier (conv-BN-pool)"),
}
IMAGE_SHAPE, NUM_CLASSES = (28, 28, 1), 10
INTERVAL = 10
PEAK = "matmul_peak"  # the pseudo-family of the peak measurement

flags.DEFINE_list("families", list(FAMILIES), f"Families to measure, of {', '.join(FAMILIES)}.")
flags.DEFINE_integer("steps", 60, "Timed steps per process (after --warmup steps).")
flags.DEFINE_integer("warmup", 3, "Untimed steps per process before timing (compile excluded).")
flags.DEFINE_integer("rounds", 3, "Rounds of one process per framework (and variant).")
flags.DEFINE_list("xla_defaults", ["dcgan"],
                  "Families also measured with XLA's own CPU flags (JAXGEN_XLA_DEFAULTS=0).")
flags.DEFINE_integer("peak_size", 4096, "n of the n x n f32 matmul that measures the peak.")
flags.DEFINE_integer("peak_repeats", 10, "Timed matmuls per peak measurement (median).")
flags.DEFINE_bool("smoke", False, "Checks only: --steps 2 --warmup 1 --rounds 1 --peak_size 1024 "
                  "--peak_repeats 2 --xla_defaults '', written to the temp dir unless --out.")
flags.DEFINE_bool("table", False, "Print the markdown table of --out and measure nothing.")
flags.DEFINE_string("out", "", f"Output JSON (default {os.path.relpath(DEFAULT_OUT, ROOT)}).")
flags.DEFINE_enum("part", None, ["jax", "torch"], "Internal: a child process's framework.")
flags.DEFINE_string("family", None, "Internal: a child process's family (or matmul_peak).")
FLAGS = flags.FLAGS


def cores() -> int:
  """The CPUs this process may run on: the size of XLA:CPU's thread pool."""
  return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def load_config(family: str):
  """configs/<module>.py's get_config(arg), the repository root on sys.path."""
  import importlib
  sys.path.insert(0, ROOT)
  module, arg, _ = FAMILIES[family]
  return importlib.import_module(f"configs.{module}").get_config(arg)


def image_spec(config) -> tuple[tuple[int, int, int], tuple[tuple[int, int], tuple[int, int]]]:
  """(H, W, C) after data.pad_to, and DataSpec.padding, as jaxgen.run.Run builds them."""
  from jaxgen.data import pad_widths
  if not config.data.pad_to:
    return IMAGE_SHAPE, ((0, 0), (0, 0))
  size = config.data.pad_to
  return (size, size, IMAGE_SHAPE[2]), pad_widths(*IMAGE_SHAPE[:2], size)


def median_rate(step, batch_size: int, steps: int, warmup: int, sync,
                interval: int = INTERVAL) -> float:
  """Median images/s over intervals of min(interval, steps) steps, after `warmup` steps."""
  for _ in range(warmup):
    step()
  sync()
  interval = min(interval, steps)
  rates = []
  for _ in range(max(1, steps // interval)):
    t = time.perf_counter()
    for _ in range(interval):
      step()
    sync()
    rates.append(interval * batch_size / (time.perf_counter() - t))
  return float(np.median(rates))


# ---------------------------------------------------------------------------------------------
# Child processes: one measurement each.
# ---------------------------------------------------------------------------------------------


def _unrolled(jaxpr):
  """`jaxpr` with every scan, in sub-jaxprs too, fully unrolled (scan's unroll=0)."""
  from jax.extend import core

  def param(value):
    if isinstance(value, core.ClosedJaxpr):
      return value.replace(jaxpr=_unrolled(value.jaxpr))
    if isinstance(value, core.Jaxpr):
      return _unrolled(value)
    if type(value) in (tuple, list):  # not NamedTuples (ConvDimensionNumbers, ...)
      return type(value)(map(param, value))
    return value

  eqns = []
  for eqn in jaxpr.eqns:
    params = {k: param(v) for k, v in eqn.params.items()}
    if eqn.primitive.name == "scan":
      params["unroll"] = 0
    eqns.append(eqn.replace(params=params))
  return jaxpr.replace(eqns=eqns)


def _flops(analysis) -> float:
  """'flops' of a cost_analysis() result (a dict, or a list of one in older JAX)."""
  return float((analysis[0] if isinstance(analysis, (list, tuple)) else analysis)["flops"])


def _while_loops(jaxpr) -> int:
  """The while loops of `jaxpr` and its sub-jaxprs (scans are not while loops in a jaxpr)."""
  from jax.extend import core
  return (sum(eqn.primitive.name == "while" for eqn in jaxpr.eqns)
          + sum(map(_while_loops, core.subjaxprs(jaxpr))))


def step_flops(fn, *args) -> tuple[float, int]:
  """XLA's cost analysis of fn(*args) with every scan unrolled, and the while loops of its
  jaxpr, whose bodies the figure counts once (0 for every family here; XLA:CPU's threefry
  lowering adds a 5-trip loop of integer operations that the jaxpr does not show)."""
  import jax
  from jax.extend import core
  closed = jax.make_jaxpr(fn)(*args)
  unrolled = closed.replace(jaxpr=_unrolled(closed.jaxpr))
  lowered = jax.jit(core.jaxpr_as_fun(unrolled)).lower(*jax.tree.leaves(args))
  return _flops(lowered.cost_analysis()), _while_loops(closed.jaxpr)


def jax_batch(config, shape):
  """A fixed batch {"image", "label"} in the range of config.data.preprocess."""
  import jax
  import jax.numpy as jnp
  b = config.batch_size
  image_key, label_key = jax.random.split(jax.random.key(0))
  mode = config.data.preprocess
  if mode == "binarize":
    image = jax.random.bernoulli(image_key, 0.5, (b, *shape)).astype(jnp.float32)
  elif mode in ("scale01", "scale11"):
    image = jax.random.uniform(image_key, (b, *shape), minval=-1.0 if mode == "scale11" else 0.0)
  else:
    raise NotImplementedError(f"data.preprocess {mode!r}")
  return {"image": image, "label": jax.random.randint(label_key, (b,), 0, NUM_CLASSES)}


def jax_child(family: str, steps: int, warmup: int) -> dict:
  sys.path.insert(0, ROOT)
  from jaxgen import runtime
  runtime.setup()
  import jax
  from jaxgen import methods
  from jaxgen.types import DataSpec

  config = load_config(family)
  shape, padding = image_spec(config)
  method = methods.get(config, DataSpec(shape, NUM_CLASSES, padding))
  batch = jax_batch(config, shape)
  state = jax.jit(method.init)(jax.random.key(1), batch)
  key = jax.random.key(2)
  params = {name: sum(x.size for x in jax.tree.leaves(p)) for name, p in state.params.items()}
  flops, loops = step_flops(method.train_step, state, batch, key)
  t = time.perf_counter()
  train_step = jax.jit(method.train_step, donate_argnums=0).lower(state, batch, key).compile()
  compile_seconds = time.perf_counter() - t
  holder = [state, None]

  def step():
    holder[0], holder[1] = train_step(holder[0], batch, key)

  rate = median_rate(step, config.batch_size, steps, warmup, lambda: jax.block_until_ready(holder))
  return {"images_per_sec": rate, "loss": float(holder[1]["loss"]), "params": params,
          "flops_per_step": flops, "flops_xla_compiled": _flops(train_step.cost_analysis()),
          "while_loops": loops, "compile_seconds": compile_seconds}


def torch_child(family: str, steps: int, warmup: int) -> dict:
  import torch
  torch.set_num_threads(cores())
  torch.manual_seed(0)
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  import twins
  config = load_config(family)
  twin = twins.make(config, *image_spec(config))
  last = [None]

  def step():
    last[0] = twin.step()

  rate = median_rate(step, config.batch_size, steps, warmup, lambda: None)
  return {"images_per_sec": rate, "loss": float(last[0]), "params": twin.params,
          "differences": twin.differences, "threads": torch.get_num_threads()}


def peak_child(framework: str, n: int, repeats: int) -> dict:
  """GFLOP/s of an n x n f32 matmul: the median of `repeats` timed calls after a warm-up."""
  if framework == "jax":
    sys.path.insert(0, ROOT)
    from jaxgen import runtime
    runtime.setup()
    import jax
    a, b = jax.random.normal(jax.random.key(0), (2, n, n), jax.numpy.float32)
    matmul = jax.jit(jax.numpy.matmul)
    call = lambda: matmul(a, b).block_until_ready()
  else:
    import torch
    torch.set_num_threads(cores())
    a, b = torch.randn(2, n, n)
    call = lambda: torch.mm(a, b)
  rate = median_rate(call, 1, repeats, 1, lambda: None, interval=1)  # matmuls/s
  return {"gflops_per_sec": 2.0 * n ** 3 * rate / 1e9}


# ---------------------------------------------------------------------------------------------
# The parent: rounds of fresh processes, checks, JSON, table.
# ---------------------------------------------------------------------------------------------


def measure(framework: str, family: str, env: dict) -> dict:
  cmd = [sys.executable, os.path.abspath(__file__), "--part", framework, "--family", family,
         "--steps", str(FLAGS.steps), "--warmup", str(FLAGS.warmup),
         "--peak_size", str(FLAGS.peak_size), "--peak_repeats", str(FLAGS.peak_repeats)]
  out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True,
                       check=False)
  if out.returncode:
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
  return json.loads(out.stdout.strip().splitlines()[-1])


def _cpu_name() -> str:
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor()


def _load() -> list[float]:
  return list(os.getloadavg()) if hasattr(os, "getloadavg") else []


def run_family(family: str, rounds: int, jax_env: dict) -> dict:
  """`rounds` rounds of fresh processes (jaxgen, PyTorch[, jaxgen on XLA's flags]), the order
  reversed every other round; their medians and the checks."""
  names = ["jaxgen", "pytorch"] + (["jaxgen_xla_defaults"] if family in FLAGS.xla_defaults else [])
  envs = {"jaxgen": {**jax_env, "JAXGEN_XLA_DEFAULTS": "1"}, "pytorch": {},
          "jaxgen_xla_defaults": {**jax_env, "JAXGEN_XLA_DEFAULTS": "0"}}
  runs = {name: [] for name in names}
  for r in range(rounds):
    for name in names if r % 2 == 0 else names[::-1]:
      out = measure("torch" if name == "pytorch" else "jax", family, envs[name])
      runs[name].append(out)
      key = "gflops_per_sec" if family == PEAK else "images_per_sec"
      print(f"{family} round {r}: {name} {out[key]:,.1f} {key}", flush=True)
  if family == PEAK:
    return {name: {"gflops_per_sec": float(np.median([o["gflops_per_sec"] for o in v])),
                   "rounds": [o["gflops_per_sec"] for o in v]} for name, v in runs.items()}
  module, arg, label = FAMILIES[family]
  jax_out, torch_out = runs["jaxgen"][0], runs["pytorch"][0]
  result = dict(
      config=f"configs/{module}.py" + (f":{arg}" if arg else ""), label=label,
      batch_size=load_config(family).batch_size,
      images_per_sec={name: float(np.median([o["images_per_sec"] for o in v]))
                      for name, v in runs.items()},
      rounds={name: [o["images_per_sec"] for o in v] for name, v in runs.items()},
      params={"jaxgen": jax_out["params"], "pytorch": torch_out["params"]},
      flops_per_step=jax_out["flops_per_step"], flops_xla_compiled=jax_out["flops_xla_compiled"],
      while_loops=jax_out["while_loops"], compile_seconds=jax_out["compile_seconds"],
      last_loss={name: [o["loss"] for o in v] for name, v in runs.items()},
      differences=torch_out["differences"])
  result["ratio_jaxgen_to_pytorch"] = (result["images_per_sec"]["jaxgen"]
                                       / result["images_per_sec"]["pytorch"])
  if jax_out["params"] != torch_out["params"]:
    raise RuntimeError(f"{family}: the twin's parameters {torch_out['params']} are not jaxgen's "
                       f"{jax_out['params']}")
  losses = [loss for v in result["last_loss"].values() for loss in v]
  if not all(math.isfinite(loss) for loss in losses):
    raise RuntimeError(f"{family}: non-finite loss {result['last_loss']}")
  return result


def fractions_of_peak(results: dict) -> None:
  """Adds each family's achieved fraction of the matmul peak (the faster framework's), from the
  FLOPs of the jaxgen step: flops_per_step × steps/s / peak, for both frameworks' steps/s."""
  peak = max(v["gflops_per_sec"] for v in results[PEAK].values()) * 1e9
  results["peak_flops_per_sec"] = peak
  for family in results["families"].values():
    family["fraction_of_peak"] = {
        name: family["flops_per_step"] * rate / family["batch_size"] / peak
        for name, rate in family["images_per_sec"].items()}


def table(results: dict) -> str:
  """The README's markdown table of a results JSON (the peak above it)."""
  peak = results[PEAK]
  lines = [
      f"Matmul peak ({results['setup']['peak_size']}² f32): JAX "
      f"{peak['jaxgen']['gflops_per_sec']:.1f} GFLOP/s, PyTorch "
      f"{peak['pytorch']['gflops_per_sec']:.1f} GFLOP/s.", "",
      "| model (config) | batch | parameters: jaxgen | PyTorch twin | jaxgen images/s | "
      "PyTorch images/s | ratio | GFLOP / step | jaxgen % of peak | PyTorch % of peak |",
      "|---|---|---|---|---|---|---|---|---|---|"]
  for f in results["families"].values():
    params = [sum(f["params"][side].values()) for side in ("jaxgen", "pytorch")]
    rate, frac = f["images_per_sec"], f["fraction_of_peak"]
    lines.append(
        f"| {f['label']} (`{f['config']}`) | {f['batch_size']} | {params[0]:,} | {params[1]:,} | "
        f"{rate['jaxgen']:,.0f} | {rate['pytorch']:,.0f} | {f['ratio_jaxgen_to_pytorch']:.2f}× | "
        f"{f['flops_per_step'] / 1e9:.2f} | {100 * frac['jaxgen']:.1f}% | "
        f"{100 * frac['pytorch']:.1f}% |")
  return "\n".join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if FLAGS.part:  # a child process: one measurement
    if FLAGS.family == PEAK:
      out = peak_child(FLAGS.part, FLAGS.peak_size, FLAGS.peak_repeats)
    else:
      child = jax_child if FLAGS.part == "jax" else torch_child
      out = child(FLAGS.family, FLAGS.steps, FLAGS.warmup)
    print(json.dumps(out))
    return
  if FLAGS.smoke:
    FLAGS.steps, FLAGS.warmup, FLAGS.rounds = 2, 1, 1
    FLAGS.peak_size, FLAGS.peak_repeats, FLAGS.xla_defaults = 1024, 2, []
  out_path = FLAGS.out or (os.path.join(tempfile.gettempdir(), "jaxgen_speed_smoke.json")
                           if FLAGS.smoke else DEFAULT_OUT)
  if FLAGS.table:
    with open(out_path) as f:
      print(table(json.load(f)))
    return
  unknown = sorted(set(FLAGS.families) - set(FAMILIES))
  if unknown:
    raise app.UsageError(f"unknown families {unknown}; expected some of {', '.join(FAMILIES)}")
  try:
    import torch
  except ImportError:
    sys.exit("benchmarks/speed.py compares with PyTorch: pip install -e '.[bench]' (torch 2.13.0)")
  import jax
  sys.path.insert(0, ROOT)
  from jaxgen import runtime

  cache = tempfile.mkdtemp(prefix="jaxgen_bench_xla_")  # compile once per variant, not per round
  jax_env = {"JAX_COMPILATION_CACHE_DIR": cache, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
  results = {"setup": {
      "steps_per_process": FLAGS.steps, "warmup_steps": FLAGS.warmup, "rounds": FLAGS.rounds,
      "smoke": FLAGS.smoke, "peak_size": FLAGS.peak_size, "peak_repeats": FLAGS.peak_repeats,
      "cpu": _cpu_name(), "cores": cores(), "torch_threads": cores(), "jax": jax.__version__,
      "torch": torch.__version__, "jaxgen_cpu_xla_flags": " ".join(runtime.CPU_XLA_DEFAULTS),
      "load_average_before": _load()}, "families": {}}
  load = results["setup"]["load_average_before"]
  if load and load[0] > 0.5 * cores() and not FLAGS.smoke:
    print(f"warning: load average {load[0]:.1f} on {cores()} cores; figures of a shared CPU are "
          "not comparable (PyTorch's OpenMP threads lose far more to other jobs than XLA's "
          "thread pool does)", file=sys.stderr)
  results[PEAK] = run_family(PEAK, FLAGS.rounds, jax_env)
  os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
  for family in FLAGS.families:
    results["families"][family] = run_family(family, FLAGS.rounds, jax_env)
    results["setup"]["load_average_after"] = _load()
    fractions_of_peak(results)
    with open(out_path, "w") as f:  # after each family: a partial run keeps what it measured
      json.dump(results, f, indent=2)
  print(table(results))
  print(f"wrote {out_path}")


if __name__ == "__main__":
  app.run(main)
