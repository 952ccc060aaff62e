"""Shared helpers: tiny configs, in-process training, and CLI subprocesses. Imported as
`from helpers import ...` (pyproject puts tests/ on sys.path); importing it sets up the process
as the tests run (XLA flags, runtime.setup) before any backend starts."""

import glob
import importlib.util
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import checkpoint, runtime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:  # configs import `configs.common`, as under train.py
  sys.path.insert(0, ROOT)

# The suite's time is XLA:CPU compiling tiny programs that then run a few steps, and most of
# compiling is LLVM optimising the generated code: without it the suite takes about half as
# long. The tests and their subprocesses only (before any backend starts); benchmarks and real
# runs keep XLA's default optimisation.
TEST_XLA_FLAGS = "--xla_backend_optimization_level=0"


def with_test_xla_flags(flags: str) -> str:
  return flags if TEST_XLA_FLAGS in flags else f"{flags} {TEST_XLA_FLAGS}".strip()


os.environ["XLA_FLAGS"] = with_test_xla_flags(os.environ.get("XLA_FLAGS", ""))
runtime.setup()  # in-process tests compute as the entry points do


# The shipped configs' names (configs/<name>.py), not the package's other modules.
CONFIGS = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "configs", "*.py"))
                 if os.path.basename(p) not in ("__init__.py", "common.py"))


def load_config(name: str, arg: str = "tiny"):
  """configs/<name>.py:get_config(arg), as config_flags would load it."""
  spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "configs", f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


def run_cli(*args, env=None, timeout=600, check=True):
  """Runs `python <args>` from the repo root; returns the CompletedProcess."""
  full_env = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
  full_env["XLA_FLAGS"] = with_test_xla_flags(full_env.get("XLA_FLAGS", ""))
  proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=full_env, capture_output=True,
                        text=True, timeout=timeout)
  if check and proc.returncode != 0:
    raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
  return proc


def params_of(config, workdir, step=None):
  """The parameters of a workdir's checkpoint, restored on this process's devices."""
  from jaxgen.run import Run
  run = Run(config, workdir)
  state = run.restore(step)
  run.checkpoints.close()
  return jax.device_get(state.params)


def assert_trees_equal(a, b):
  la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(la, lb):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def assert_trees_close(a, b, rtol, atol):
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def key(seed: int) -> jax.Array:
  # rbg, not threefry: XLA:CPU takes ~2 s to compile each threefry draw, ~15 s per DCGAN init.
  return jax.random.key(seed, impl="rbg")


def _best_steps(workdir):
  return sorted(int(s) for s in os.listdir(workdir / checkpoint.BEST_DIR) if s.isdigit())


def binary_batch(batch_size, shape):
  """A batch of binary images of `shape`, the VAE and DRAW tests' data."""
  rng = np.random.default_rng(0)
  # Two prototypes with pixel noise: structure an encoder can learn and a posterior to infer.
  protos = rng.uniform(size=(2, *shape)) < 0.5
  flips = rng.uniform(size=(batch_size, *shape)) < 0.1
  images = protos[rng.integers(0, 2, batch_size)] ^ flips
  return {"image": jnp.asarray(images, jnp.float32), "label": jnp.zeros(batch_size, jnp.int32)}
