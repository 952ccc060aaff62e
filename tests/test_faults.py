"""Fault campaign (issue 16): what a long run meets — a damaged latest checkpoint (each kind of
file orbax writes, truncated), no readable checkpoint, a full disk while saving, kill -9 in the
middle of a save, a job started twice — and what must hold after it: a one-line message, no
checkpoint lost, and a resumed run that ends bit-identical to one never disturbed, with each
step once in metrics.jsonl. Fixed seeds, the tiny Fashion-MNIST VAE (20 steps, checkpoints at
10 and 20)."""

import json
import logging
import os
import shutil
import socket
import subprocess
import sys

import jax
import pytest

from conftest import load_config
from jaxgen import train, workdir_lock


def _config(steps: int = 20):
  c = load_config("vae_fashion_mnist", "tiny")  # logs every 5 steps, checkpoints every 10
  c.num_steps = steps
  c.evals.likelihood.every = -1  # the campaign compares parameters; evaluating adds only time
  return c


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  """An undisturbed run: its workdir (checkpoints 10 and 20) and final parameters."""
  workdir = tmp_path_factory.mktemp("straight")
  state, _ = train.train_and_evaluate(_config(), str(workdir))
  return workdir, jax.device_get(state.params)


def _copy(straight, tmp_path):
  workdir = tmp_path / "run"
  shutil.copytree(straight[0], workdir)
  return workdir


def _logged_steps(workdir):
  rows = [json.loads(l) for l in open(workdir / "metrics.jsonl")]
  return [r["step"] for r in rows if "train/loss" in r]


def test_metrics_after_a_resume_hold_each_step_once(straight, tmp_path):
  """A run that logged steps 15 and 20 (and a torn last line) past its last checkpoint (10)
  resumes from 10 and logs them again: each step is in metrics.jsonl once."""
  workdir = _copy(straight, tmp_path)
  shutil.rmtree(workdir / "checkpoints" / "20")
  with open(workdir / "metrics.jsonl", "a") as f:
    f.write('{"step": 25, "train/lo')
  assert _logged_steps_tolerant(workdir) == [5, 10, 15, 20]
  train.train_and_evaluate(_config(), str(workdir))
  assert _logged_steps(workdir) == [5, 10, 15, 20]
  rows = [json.loads(l) for l in open(workdir / "metrics.jsonl")]
  assert len({json.dumps(r, sort_keys=True) for r in rows}) == len(rows)


def _logged_steps_tolerant(workdir):
  rows = []
  for line in open(workdir / "metrics.jsonl"):
    try:
      rows.append(json.loads(line))
    except ValueError:
      pass
  return [r["step"] for r in rows if "train/loss" in r]


def _write_lock(workdir, pid, host=None):
  os.makedirs(workdir, exist_ok=True)
  record = {"pid": pid, "host": host or socket.gethostname(), "start": None, "since": "then"}
  (workdir / workdir_lock.LOCK_FILE).write_text(json.dumps(record))


def _dead_pid():
  proc = subprocess.Popen([sys.executable, "-c", "pass"])
  proc.wait()
  return proc.pid


def test_a_live_lock_refuses_a_second_trainer_in_one_line(tmp_path):
  sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
  try:
    _write_lock(tmp_path, sleeper.pid)
    with pytest.raises(workdir_lock.WorkdirLockedError) as e:
      train.train_and_evaluate(_config(), str(tmp_path))
  finally:
    sleeper.kill()
    sleeper.wait()
  message = str(e.value)
  assert "\n" not in message and f"pid {sleeper.pid} on host {socket.gethostname()}" in message
  assert sorted(os.listdir(tmp_path)) == [workdir_lock.LOCK_FILE]  # it wrote nothing


def test_a_lock_of_another_host_is_never_taken_over(tmp_path):
  _write_lock(tmp_path, os.getpid(), host="elsewhere.example")
  with pytest.raises(workdir_lock.WorkdirLockedError, match="on host elsewhere.example"):
    workdir_lock.WorkdirLock(str(tmp_path)).acquire()


def test_a_stale_or_garbled_lock_is_taken_over_with_a_warning_and_released(tmp_path, caplog):
  lock_path = tmp_path / workdir_lock.LOCK_FILE
  for stale in (lambda: _write_lock(tmp_path, _dead_pid()), lambda: lock_path.write_text("{")):
    stale()
    with caplog.at_level(logging.WARNING):
      with workdir_lock.WorkdirLock(str(tmp_path)):
        assert json.loads(lock_path.read_text())["pid"] == os.getpid()
        assert workdir_lock.live_holder(str(tmp_path)) is None  # this process holds it
    assert "taking over the stale lock" in caplog.text
    assert not lock_path.exists()
    caplog.clear()
  assert sorted(os.listdir(tmp_path)) == []  # no stray temporary files
