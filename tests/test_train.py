"""The trainer: one step per tiny config, resume and sampling bit-identical, 8 devices and
2 processes against 1, signals, non-finite losses, config errors."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from helpers import (ROOT, assert_trees_close, assert_trees_equal, load_config, params_of,
                     run_cli)
from jaxgen import train


def _short(config, steps=20, split="train[:512]"):
  """512 examples at batch 64: 8 steps per epoch, so 20 steps cross two epoch boundaries."""
  config.data.train_split = split
  config.num_steps = steps
  return config


def test_tiny_fashion_mnist_trains_and_writes_its_outputs(tmp_path, tiny_fmnist):
  state, summary = train.train_and_evaluate(tiny_fmnist, str(tmp_path))
  assert int(state.step) == tiny_fmnist.num_steps == summary["step"]
  assert summary["compiles"] == 1  # the step function was traced once
  for name in ("config.json", "metrics.jsonl", "samples/step_000020.png",
               "samples/recon_step_000020.png", "checkpoints/20"):
    assert (tmp_path / name).exists(), name
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["10", "20"]
  rows = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  assert [r["step"] for r in rows if "train/loss" in r] == [5, 10, 15, 20]
  assert {"eval/neg_elbo", "eval/iwae_nll"} <= set(summary["eval"])
  assert os.listdir(tmp_path / "tensorboard")


def test_keeps_only_the_last_k_checkpoints(tmp_path, tiny_fmnist):
  c = _short(tiny_fmnist, steps=40)
  c.keep_checkpoints = 2
  train.train_and_evaluate(c, str(tmp_path))
  assert sorted(os.listdir(tmp_path / "checkpoints"), key=int) == ["30", "40"]


def test_tiny_mnist_trains(tmp_path):
  c = load_config("vae_mnist", "tiny")
  state, summary = train.train_and_evaluate(c, str(tmp_path))
  assert int(state.step) == c.num_steps and np.isfinite(summary["eval"]["eval/neg_elbo"])


def test_resume_is_bit_identical(tmp_path, tiny_fmnist):
  straight, _ = train.train_and_evaluate(_short(tiny_fmnist), str(tmp_path / "a"))
  first = _short(load_config("vae_fashion_mnist"), steps=12)
  train.train_and_evaluate(first, str(tmp_path / "b"))
  resumed, summary = train.train_and_evaluate(_short(load_config("vae_fashion_mnist")),
                                              str(tmp_path / "b"))
  assert summary["step"] == 20
  assert_trees_equal(jax.device_get(straight.params), jax.device_get(resumed.params))
  assert_trees_equal(jax.device_get(straight.opt_state), jax.device_get(resumed.opt_state))


def test_sigterm_checkpoints_then_resume_is_bit_identical(tmp_path, tiny_fmnist):
  """A run killed by SIGTERM saves a checkpoint where it stopped; resuming it ends on the
  same parameters as a run that was never interrupted."""
  steps = 1000
  workdir = tmp_path / "killed"
  args = ["train.py", "--config", "configs/vae_fashion_mnist.py:tiny", "--workdir", str(workdir),
          f"--config.num_steps={steps}", "--config.data.train_split=train[:512]",
          "--config.log_every=1", "--config.checkpoint_every=100000",
          "--config.eval_every=100000", "--config.sample_every=100000"]
  proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT})
  metrics = workdir / "metrics.jsonl"
  deadline = time.time() + 300
  while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 30):
    assert proc.poll() is None, proc.stderr.read()[-3000:]
    assert time.time() < deadline
    time.sleep(0.2)
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=120)
  assert proc.returncode == 0, err[-3000:]
  saved = [int(s) for s in os.listdir(workdir / "checkpoints")]
  assert len(saved) == 1 and 30 <= saved[0] < steps, saved
  assert "SIGTERM received" in err

  c = _short(tiny_fmnist, steps=steps)
  c.checkpoint_every = c.eval_every = c.sample_every = 100000
  resumed, summary = train.train_and_evaluate(c, str(workdir))
  straight, _ = train.train_and_evaluate(_short(load_config("vae_fashion_mnist"), steps=steps),
                                         str(tmp_path / "straight"))
  assert_trees_equal(jax.device_get(straight.params), jax.device_get(resumed.params))


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, tiny_fmnist):
  """A method plugged in by import path (tests/nan_method.py) whose loss turns NaN at step 13."""
  c = _short(tiny_fmnist)
  c.method = "nan_method:make"
  with pytest.raises(train.NonFiniteLossError, match=r"at step 14.*step 10"):
    train.train_and_evaluate(c, str(tmp_path))
  assert os.listdir(tmp_path / "checkpoints") == ["10"]


def test_eight_devices_match_one(tmp_path, tiny_fmnist):
  run_cli("train.py", "--config", "configs/vae_fashion_mnist.py:tiny", "--workdir",
          str(tmp_path / "eight"), env={"XLA_FLAGS": "--xla_force_host_platform_device_count=8"})
  one, _ = train.train_and_evaluate(tiny_fmnist, str(tmp_path / "one"))
  eight = params_of(tiny_fmnist, str(tmp_path / "eight"))
  # Same batches and keys; only the order of floating-point reductions differs.
  assert_trees_close(jax.device_get(one.params), eight, rtol=1e-4, atol=1e-5)


def _free_port():
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_two_processes_match_one(tmp_path, tiny_fmnist):
  port = _free_port()
  workdir = tmp_path / "two"
  procs = [subprocess.Popen(
      [sys.executable, "train.py", "--config", "configs/vae_fashion_mnist.py:tiny",
       "--workdir", str(workdir), "--config.distributed.mode=on",
       f"--config.distributed.coordinator_address=localhost:{port}",
       "--config.distributed.num_processes=2", f"--config.distributed.process_id={i}",
       "--config.distributed.cpu_collectives=gloo"],
      cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE, text=True) for i in range(2)]
  for p in procs:
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
  one, _ = train.train_and_evaluate(tiny_fmnist, str(tmp_path / "one"))
  assert_trees_close(jax.device_get(one.params), params_of(tiny_fmnist, str(workdir)),
                     rtol=1e-4, atol=1e-5)


def test_cli_overrides_and_rejects_typos(tmp_path):
  base = ["train.py", "--config", "configs/vae_fashion_mnist.py:tiny", "--workdir"]
  run_cli(*base, str(tmp_path / "ok"), "--config.optimizer.lr=3e-3", "--config.num_steps=2")
  saved = json.load(open(tmp_path / "ok" / "config.json"))
  assert saved["optimizer"]["lr"] == 3e-3 and saved["num_steps"] == 2
  typo = run_cli(*base, str(tmp_path / "typo"), "--config.optimizer.lrr=1e-3", check=False)
  assert typo.returncode != 0 and "lrr" in typo.stderr
  wrong_type = run_cli(*base, str(tmp_path / "type"), "--config.batch_size=big", check=False)
  assert wrong_type.returncode != 0 and "batch_size" in wrong_type.stderr


def test_loss_falls_on_real_data(tmp_path, tiny_fmnist):
  """300 steps of the tiny VAE on Fashion-MNIST: the negative ELBO drops well below its start."""
  c = tiny_fmnist
  c.num_steps, c.log_every = 300, 20
  c.eval_every = c.sample_every = c.checkpoint_every = 300
  train.train_and_evaluate(c, str(tmp_path))
  losses = [r["train/loss"] for r in map(json.loads, open(tmp_path / "metrics.jsonl"))
            if "train/loss" in r]
  assert losses[-1] < 0.6 * losses[0], losses
