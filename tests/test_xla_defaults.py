"""jaxgen's default CPU XLA flags: added when absent, never over a user's value, and off on request."""

import os

import jaxgen


def test_adds_the_defaults_to_other_flags(monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
  monkeypatch.delenv("JAXGEN_XLA_DEFAULTS", raising=False)
  jaxgen._set_xla_defaults()
  flags = os.environ["XLA_FLAGS"].split()
  assert flags == ["--xla_force_host_platform_device_count=8", *jaxgen.CPU_XLA_DEFAULTS]


def test_a_users_value_of_the_flag_wins(monkeypatch):
  mine = "--xla_cpu_experimental_ynn_fusion_type=+individual_convolution"
  monkeypatch.setenv("XLA_FLAGS", mine)
  monkeypatch.delenv("JAXGEN_XLA_DEFAULTS", raising=False)
  jaxgen._set_xla_defaults()
  assert os.environ["XLA_FLAGS"] == mine


def test_can_be_switched_off(monkeypatch):
  monkeypatch.delenv("XLA_FLAGS", raising=False)
  monkeypatch.setenv("JAXGEN_XLA_DEFAULTS", "0")
  jaxgen._set_xla_defaults()
  assert "XLA_FLAGS" not in os.environ
