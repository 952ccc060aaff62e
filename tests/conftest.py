"""Fixtures and hooks for the whole suite (`trained` is the run that test_run.py and
test_evaluate.py evaluate); the shared helpers are in tests/helpers/."""

import os

import jax
import pytest

from helpers import ROOT, load_config
from jaxgen import train


@pytest.fixture
def tiny_fmnist():
  return load_config("vae_fashion_mnist", "tiny")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """The tiny VAE, trained once (20 steps), with an eval split of 1,000 images."""
  workdir = tmp_path_factory.mktemp("run")
  config = load_config("vae_fashion_mnist", "tiny")
  config.data.eval_split = "test[:1000]"
  train.train_and_evaluate(config, str(workdir))
  return config, str(workdir)


def pytest_configure(config):
  """A persistent XLA compilation cache shared by the tests and their subprocesses: the suite
  compiles the same tiny steps many times, and on 2 CPU cores compiling dominates."""
  del config
  cache = os.path.join(ROOT, ".pytest_cache", "xla")
  os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", cache)
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
  jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
  jax.config.update("jax_persistent_cache_min_compile_time_secs",
                    float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))
