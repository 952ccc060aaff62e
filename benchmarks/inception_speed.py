"""FID Inception throughput on this CPU: jaxgen's jitted extractor against the TorchScript module.

  python benchmarks/inception_speed.py [--batch 50,100] [--rounds 3] \
      [--out benchmarks/results/inception_speed.json]

Both take the same batch of 28x28 grey Fashion-MNIST test images in [0, 1] and include the
preprocessing: jaxgen's `extractor` (fetched weights: `python -m jaxgen.metrics.inception fetch`)
does its own; torch runs pytorch-fid's (F.interpolate to 299x299, bilinear, align_corners=False,
2x - 1, grey repeated to RGB) before `torch.jit.load(default_1.pt)`, in eval mode under
torch.inference_mode() with 2 threads. Each measurement is a fresh process (jaxgen and torch
alternately, per round and batch size): a warm-up call (jaxgen's compile), then the median of
--calls timed calls. Reports the median over rounds in images/s and the machine load (uptime)
before and after, since the CPU may be shared.
"""

import json
import os
import platform
import subprocess
import sys
import time

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBRARIES = ("jaxgen", "torch")

flags.DEFINE_list("batch", ["50", "100"], "Batch sizes, comma-separated.")
flags.DEFINE_integer("rounds", 3, "Rounds of one process per library and batch size.")
flags.DEFINE_integer("calls", 2, "timed calls per measurement")
flags.DEFINE_list("libraries", list(LIBRARIES), f"Any of {', '.join(LIBRARIES)}, comma-separated.")
flags.DEFINE_string("out", os.path.join(ROOT, "benchmarks", "results", "inception_speed.json"),
                    "Output JSON.")
flags.DEFINE_enum("child", None, LIBRARIES, "Internal: a child process's library.")
flags.register_validator("batch", lambda v: v and all(b.isdigit() and int(b) > 0 for b in v),
                         "--batch takes positive integers, comma-separated")
flags.register_validator("libraries", lambda v: v and set(v) <= set(LIBRARIES),
                         f"--libraries takes any of {', '.join(LIBRARIES)}, comma-separated")
FLAGS = flags.FLAGS


def _images(batch):
  sys.path.insert(0, ROOT)
  from jaxgen import data
  return (data.load("fashion_mnist", f"test[:{batch}]").images / 255.0).astype("float32")


def _time(fn, calls):
  fn()  # warm-up (and jaxgen's compile)
  times = []
  for _ in range(calls):
    t = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t)
  return times


def measure_jaxgen(batch, calls):
  images = _images(batch)
  import jax
  from jaxgen import runtime
  from jaxgen.metrics import inception
  runtime.setup()
  extract = inception.load_extractor(inception.fetched_weights())
  return _time(lambda: jax.block_until_ready(extract(images).pool3), calls)


def measure_torch(batch, calls):
  images = _images(batch)
  import torch
  import torch.nn.functional as F
  from jaxgen.metrics import inception
  torch.set_num_threads(2)
  module = torch.jit.load(inception.fetched_paths()[1]).eval()
  x = torch.from_numpy(images).permute(0, 3, 1, 2)

  def run():
    with torch.inference_mode():  # pytorch-fid's preprocessing, then the network
      y = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
      return module(2 * y.expand(-1, 3, -1, -1) - 1)

  return _time(run, calls)


def _cpu():
  with open("/proc/cpuinfo") as f:
    models = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
  return models[0] if models else platform.machine()


def _uptime():
  return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  batches = [int(b) for b in FLAGS.batch]
  if FLAGS.child:
    measure = measure_jaxgen if FLAGS.child == "jaxgen" else measure_torch
    print(json.dumps(measure(batches[0], FLAGS.calls)))
    return

  import numpy as np
  load_before = _uptime()
  calls = {lib: {b: [] for b in batches} for lib in FLAGS.libraries}
  for r in range(FLAGS.rounds):
    for b in batches:
      # Alternate which library goes first, so that a change of load favours neither.
      for lib in FLAGS.libraries[::1 if r % 2 == 0 else -1]:
        out = subprocess.run([sys.executable, __file__, "--child", lib, "--batch", str(b),
                              "--calls", str(FLAGS.calls)], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": ROOT})
        if out.returncode != 0:
          sys.exit(f"{lib} batch {b} failed:\n{out.stderr[-2000:]}")
        times = json.loads(out.stdout.strip().splitlines()[-1])
        calls[lib][b].append(times)
        print(f"round {r + 1} batch {b} {lib}: {b / np.median(times):.1f} images/s",
              file=sys.stderr)
  # Per round: the median call; over rounds: the median of those.
  rate = {lib: {b: b / float(np.median([np.median(t) for t in calls[lib][b]])) for b in batches}
          for lib in FLAGS.libraries}
  import jax
  import torch
  sys.path.insert(0, ROOT)
  from jaxgen import runtime
  runtime.set_xla_defaults()  # XLA_FLAGS as the jaxgen processes had them
  results = {
      "images_per_s": {lib: {str(b): round(v, 2) for b, v in r.items()} for lib, r in rate.items()},
      "call_seconds": {lib: {str(b): t for b, t in c.items()} for lib, c in calls.items()},
      "rounds": FLAGS.rounds, "calls_per_round": FLAGS.calls,
      "load_before": load_before, "load_after": _uptime(),
      "cpu": _cpu(), "cpu_count": os.cpu_count(),
      "jax": jax.__version__, "torch": torch.__version__, "torch_threads": 2,
      # As in the jaxgen processes: runtime.setup adds its CPU defaults (JAXGEN_XLA_DEFAULTS).
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
  }
  os.makedirs(os.path.dirname(FLAGS.out), exist_ok=True)
  with open(FLAGS.out, "w") as f:
    json.dump(results, f, indent=2)
  print(f"{'batch':>6} " + " ".join(f"{lib + ' images/s':>16}" for lib in FLAGS.libraries))
  for b in batches:
    print(f"{b:>6} " + " ".join(f"{rate[lib][b]:>16.1f}" for lib in FLAGS.libraries))
  print(f"load: {load_before} -> {results['load_after']}")
  print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
  app.run(main)
