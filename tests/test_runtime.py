"""jaxgen.runtime: the default CPU XLA flags (added when absent, never over a user's value, off
on request) are set by the entry points' setup, never by importing jaxgen."""

import os
import subprocess
import sys

from jaxgen import runtime


def test_adds_the_defaults_to_other_flags(monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
  monkeypatch.delenv("JAXGEN_XLA_DEFAULTS", raising=False)
  runtime.set_xla_defaults()
  flags = os.environ["XLA_FLAGS"].split()
  assert flags == ["--xla_force_host_platform_device_count=8", *runtime.CPU_XLA_DEFAULTS]


def test_a_users_value_of_the_flag_wins(monkeypatch):
  mine = "--xla_cpu_experimental_ynn_fusion_type=+individual_convolution"
  monkeypatch.setenv("XLA_FLAGS", mine)
  monkeypatch.delenv("JAXGEN_XLA_DEFAULTS", raising=False)
  runtime.set_xla_defaults()
  assert os.environ["XLA_FLAGS"] == mine


def test_can_be_switched_off(monkeypatch):
  monkeypatch.delenv("XLA_FLAGS", raising=False)
  monkeypatch.setenv("JAXGEN_XLA_DEFAULTS", "0")
  runtime.set_xla_defaults()
  assert "XLA_FLAGS" not in os.environ


def test_importing_jaxgen_changes_no_global_state():
  """Every jaxgen module imported in a fresh process: XLA_FLAGS and JAX's config untouched, no
  backend started, no absl flag defined (the other command lines define theirs when they run)."""
  code = """
import os, pkgutil, importlib, jax
from absl import flags
before = (os.environ.get("XLA_FLAGS"), jax.config.jax_threefry_partitionable)
import jaxgen
for m in pkgutil.walk_packages(jaxgen.__path__, "jaxgen."):
  if m.name not in ("jaxgen.sample", "jaxgen.evaluate"):  # entry points define absl flags
    importlib.import_module(m.name)
from jax._src import xla_bridge
assert not xla_bridge._backends, "a backend was started at import"
after = (os.environ.get("XLA_FLAGS"), jax.config.jax_threefry_partitionable)
assert before == after, (before, after)
ours = [m for m in flags.FLAGS.flags_by_module_dict() if m.startswith("jaxgen")]
assert not ours, f"absl flags defined at import by {ours}"
"""
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  subprocess.run([sys.executable, "-c", code], check=True, env=env,
                 cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
