"""Fault campaign (issue 16): what a long run meets — a damaged latest checkpoint (each kind of
file orbax writes, truncated), no readable checkpoint, a full disk while saving, kill -9 in the
middle of a save, a job started twice — and what must hold after it: a one-line message, no
checkpoint lost, and a resumed run that ends bit-identical to one never disturbed, with each
step once in metrics.jsonl. Fixed seeds, the tiny Fashion-MNIST VAE (20 steps, checkpoints at
10 and 20)."""

import errno
import fnmatch
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zlib

import jax
import pytest
from PIL import Image

from helpers import ROOT, assert_trees_equal, load_config, params_of, run_cli
from jaxgen import checkpoint, train, workdir_lock


CLI = ["--config", "configs/vae_fashion_mnist.py:tiny", "--config.evals.likelihood.every=-1"]


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


def _snapshot(directory):
  """{relative path: (size, CRC-32)} of every file below `directory`."""
  out = {}
  for root, _, names in os.walk(directory):
    for n in names:
      p = os.path.join(root, n)
      out[os.path.relpath(p, directory)] = (os.path.getsize(p),
                                            zlib.crc32(open(p, "rb").read()))
  return out


def _damage_warnings(caplog):
  return [r.getMessage() for r in caplog.records if "is unreadable" in r.getMessage()]


# Every kind of file in a checkpoint's step directory (orbax 0.12.8 StandardSave of a TrainState:
# OCDBT + zarr through TensorStore, one process), and jaxgen's table of their sizes and CRCs.
# `*` stands for one path component.
FILE_KINDS = {
    "step_metadata": "_CHECKPOINT_METADATA",
    "step_commit_marker": "commit_success.txt",
    "file_table": checkpoint.FILE_TABLE,
    "item_commit_marker": "default/commit_success.txt",
    "tree_metadata": "default/_METADATA",
    "shardings": "default/_sharding",
    "array_metadata": "default/array_metadatas/process_*",
    "ocdbt_manifest": "default/manifest.ocdbt",
    "ocdbt_btree_node": "default/d/*",
    "process_ocdbt_manifest": "default/ocdbt.process_*/manifest.ocdbt",
    "process_ocdbt_file": "default/ocdbt.process_*/d/*",
}


def _is_kind(relpath: str, pattern: str) -> bool:
  return relpath.count("/") == pattern.count("/") and fnmatch.fnmatchcase(relpath, pattern)


def _largest_of_kind(step_dir, kind):
  files = [f for f in _snapshot(step_dir) if _is_kind(f, FILE_KINDS[kind])]
  return max(files, key=lambda f: (os.path.getsize(step_dir / f), f))


def test_the_campaign_covers_every_kind_of_file_in_a_checkpoint(straight):
  """Each file of a fresh checkpoint is of exactly one kind, and each kind occurs: a new kind
  (an orbax upgrade) fails here until the campaign truncates it too."""
  files = _snapshot(straight[0] / "checkpoints" / "20")
  for f in files:
    assert len([k for k, p in FILE_KINDS.items() if _is_kind(f, p)]) == 1, f
  assert all(any(_is_kind(f, p) for f in files) for p in FILE_KINDS.values())


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_truncated_latest_checkpoint_is_moved_aside_and_the_run_ends_bit_identical(
    kind, straight, tmp_path, caplog):
  workdir = _copy(straight, tmp_path)
  victim = _largest_of_kind(workdir / "checkpoints" / "20", kind)
  path = workdir / "checkpoints" / "20" / victim
  size = os.path.getsize(path)
  os.truncate(path, size // 2)
  with caplog.at_level(logging.WARNING):
    state, summary = train.train_and_evaluate(_config(), str(workdir))
  [warning] = _damage_warnings(caplog)
  assert "\n" not in warning and "step 20" in warning and victim in warning
  assert "restored step 10" in warning and "checkpoints_corrupt" in warning
  assert os.path.getsize(workdir / "checkpoints_corrupt" / "20" / victim) == size // 2
  assert summary["step"] == 20 and sorted(os.listdir(workdir / "checkpoints")) == ["10", "20"]
  assert_trees_equal(straight[1], jax.device_get(state.params))
  assert _logged_steps(workdir) == [5, 10, 15, 20]


def test_a_flipped_byte_in_the_data_is_caught_by_the_crc(straight, tmp_path, caplog):
  """orbax restores a checkpoint whose array data has a flipped byte without a word (zarr keeps
  no checksum); the file table's CRC-32 catches it."""
  workdir = _copy(straight, tmp_path)
  step_dir = workdir / "checkpoints" / "20"
  victim = _largest_of_kind(step_dir, "process_ocdbt_file")
  with open(step_dir / victim, "r+b") as f:
    f.seek(os.path.getsize(step_dir / victim) // 2)
    byte = f.read(1)
    f.seek(-1, os.SEEK_CUR)
    f.write(bytes([byte[0] ^ 0x10]))
  c = _config()
  with caplog.at_level(logging.WARNING):
    restored = params_of(c, str(workdir))
  [warning] = _damage_warnings(caplog)
  assert "CRC-32" in warning and victim in warning
  assert_trees_equal(params_of(c, str(straight[0]), 10), restored)


def test_a_reader_leaves_a_damaged_checkpoint_to_the_live_trainer_of_the_workdir(
    straight, tmp_path, caplog):
  """jaxgen.sample or jaxgen.evaluate beside a running trainer falls back without moving the
  checkpoint that the trainer's checkpoint manager tracks."""
  workdir = _copy(straight, tmp_path)
  os.truncate(workdir / "checkpoints" / "20" / "default" / "_sharding", 0)
  trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
  try:
    _write_lock(workdir, trainer.pid)
    with caplog.at_level(logging.WARNING):
      restored = params_of(_config(), str(workdir))
  finally:
    trainer.kill()
    trainer.wait()
  [warning] = _damage_warnings(caplog)
  assert f"left in place (pid {trainer.pid} on host {socket.gethostname()}" in warning
  assert sorted(os.listdir(workdir / "checkpoints")) == ["10", "20"]
  assert_trees_equal(params_of(_config(), str(straight[0]), 10), restored)


def test_no_readable_checkpoint_is_a_one_line_error_and_nothing_moves(straight, tmp_path):
  workdir = _copy(straight, tmp_path)
  for step in ("10", "20"):
    victim = workdir / "checkpoints" / step / _largest_of_kind(
        workdir / "checkpoints" / step, "process_ocdbt_file")
    os.truncate(victim, 100)
  before = _snapshot(workdir)
  with pytest.raises(checkpoint.NoReadableCheckpointError) as e:
    train.train_and_evaluate(_config(), str(workdir))
  message = str(e.value)
  assert "\n" not in message and "nothing was moved or deleted" in message
  assert "step 20: " in message and "step 10: " in message
  assert _snapshot(workdir) == before  # no lock left behind either


def test_an_explicit_unreadable_step_is_an_error_without_fallback(straight, tmp_path):
  workdir = _copy(straight, tmp_path)
  os.truncate(workdir / "checkpoints" / "10" / "default" / "_METADATA", 10)
  with pytest.raises(checkpoint.NoReadableCheckpointError, match=r"step 10 .* unreadable"):
    params_of(_config(), str(workdir), 10)
  with pytest.raises(checkpoint.NoReadableCheckpointError, match=r"no checkpoint of step 15"):
    params_of(_config(), str(workdir), 15)
  assert sorted(os.listdir(workdir / "checkpoints")) == ["10", "20"]


@pytest.mark.slow
def test_clis_fall_back_past_a_damaged_checkpoint_and_print_one_line_without_any(
    straight, tmp_path):
  """jaxgen.sample restores through Run as jaxgen.evaluate does: a warning line and step 10;
  with no readable checkpoint left, train.py and jaxgen.sample end on one error line."""
  workdir = _copy(straight, tmp_path)
  os.truncate(workdir / "checkpoints" / "20" / "default" / "manifest.ocdbt", 0)
  out = tmp_path / "s.png"
  proc = run_cli("-m", "jaxgen.sample", "--workdir", str(workdir), "--num", "4", "--out",
                 str(out))
  assert Image.open(out).text["step"] == "10"
  [line] = [l for l in proc.stderr.splitlines() if "is unreadable" in l]
  assert "step 20" in line and "default/manifest.ocdbt" in line and "restored step 10" in line
  assert "Traceback" not in proc.stderr

  os.truncate(workdir / "checkpoints" / "10" / "default" / "_METADATA", 0)
  before = _snapshot(workdir)
  failed = run_cli("train.py", *CLI, "--workdir", str(workdir), check=False)
  assert failed.returncode == 1 and "Traceback" not in failed.stderr
  last_line = failed.stderr.strip().splitlines()[-1]
  assert last_line.startswith("train.py: no readable checkpoint in ")
  sample = run_cli("-m", "jaxgen.sample", "--workdir", str(workdir), check=False)
  assert sample.returncode != 0 and "no readable checkpoint in " in sample.stderr
  assert "Traceback" not in sample.stderr
  assert _snapshot(workdir) == before


def test_a_full_disk_while_saving_stops_the_run_and_keeps_the_previous_checkpoint(
    straight, tmp_path, monkeypatch):
  """ENOSPC raised while orbax writes the tree metadata of step 20 (in its background thread,
  beside the array data), with keep_checkpoints=1: the run stops with one line naming the step
  and the error, step 10 is kept and restores, and resuming ends bit-identical."""
  from orbax.checkpoint._src.path import async_path
  write_text = async_path.write_text

  async def full_disk(path, text):
    if "20.orbax-checkpoint-tmp" in str(path) and path.name == "_METADATA":
      path.write_text(text[:len(text) // 2])
      raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return await write_text(path, text)

  monkeypatch.setattr(async_path, "write_text", full_disk)
  workdir = tmp_path / "full"
  c = _config()
  c.keep_checkpoints = 1
  with pytest.raises(checkpoint.CheckpointSaveError) as e:
    train.train_and_evaluate(c, str(workdir))
  message = str(e.value)
  assert "\n" not in message and "step 20" in message and "No space left on device" in message
  assert "the newest checkpoint is still step 10" in message
  monkeypatch.setattr(async_path, "write_text", write_text)
  assert sorted(os.listdir(workdir / "checkpoints")) == ["10", "20.orbax-checkpoint-tmp"]
  assert_trees_equal(params_of(c, str(straight[0]), 10), params_of(c, str(workdir)))
  assert not os.path.exists(workdir / workdir_lock.LOCK_FILE)
  state, _ = train.train_and_evaluate(c, str(workdir))
  assert_trees_equal(straight[1], jax.device_get(state.params))
  assert _logged_steps(workdir) == [5, 10, 15, 20]


def test_non_finite_loss_before_any_checkpoint_says_there_is_none(tmp_path):
  c = _config()
  c.method = "nan_method:make"  # loss NaN from step 14
  c.checkpoint_every = 100
  with pytest.raises(train.NonFiniteLossError) as e:
    train.train_and_evaluate(c, str(tmp_path))
  assert str(e.value).startswith("non-finite loss (nan) at step 14; the run stopped at step 15")
  assert "no checkpoint was saved before it" in str(e.value) and "None" not in str(e.value)


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


@pytest.mark.slow
def test_kill_9_during_a_save_then_resume_is_bit_identical(straight, tmp_path, caplog):
  """The trainer is killed -9 while the checkpoint of step 20 is half saved (its files written
  into orbax's temporary directory, not yet renamed), having logged steps past the last
  checkpoint. Meanwhile a second train.py on the workdir refuses. The resumed run takes over
  the dead trainer's lock, restores step 10, logs each step once and ends bit-identical."""
  workdir, marker = tmp_path / "killed", tmp_path / "saving"
  env = {**os.environ, "PYTHONPATH": ROOT}
  proc = subprocess.Popen(
      [sys.executable, "tests/hang_save.py", "20", str(marker), *CLI, "--workdir", str(workdir),
       "--config.num_steps=30"],
      cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  try:
    deadline = time.time() + 300
    while not marker.exists():
      assert proc.poll() is None, proc.stderr.read()[-3000:]
      assert time.time() < deadline
      time.sleep(0.1)
    second = run_cli("train.py", *CLI, "--workdir", str(workdir), check=False)
    assert second.returncode == 1
    assert second.stderr.strip().splitlines()[-1] == (
        f"train.py: {workdir} is in use by another trainer, pid {proc.pid} on host "
        f"{socket.gethostname()} (since " + json.loads(
            (workdir / workdir_lock.LOCK_FILE).read_text())["since"] +
        f"); stop it first (if it is gone for good, delete {workdir / workdir_lock.LOCK_FILE})")
    # The loop ran on while step 20 saved in the background, up to the save of step 30.
    deadline = time.time() + 120
    while 25 not in _logged_steps_tolerant(workdir):
      assert time.time() < deadline
      time.sleep(0.1)
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
  assert sorted(os.listdir(workdir / "checkpoints")) == ["10", "20.orbax-checkpoint-tmp"]
  with caplog.at_level(logging.WARNING):
    state, summary = train.train_and_evaluate(_config(), str(workdir))
  assert f"taking over the stale lock {workdir / workdir_lock.LOCK_FILE} of pid {proc.pid}" \
      in caplog.text
  assert summary["step"] == 20
  assert_trees_equal(straight[1], jax.device_get(state.params))
  assert _logged_steps(workdir) == [5, 10, 15, 20]
  assert sorted(os.listdir(workdir / "checkpoints")) == ["10", "20"]
