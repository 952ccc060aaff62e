"""The trainer: one step per tiny config, resume bit-identical, 8 devices and 2 processes against
1, signals, non-finite losses, config errors; sample metrics on their schedule and the best
checkpoint, kept across a resume."""

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

from helpers import (ROOT, _best_steps, assert_trees_close, assert_trees_equal, load_config,
                     params_of, run_cli)
from jaxgen import checkpoint, train
from jaxgen.run import Run


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


# ----- Sample metrics during training and the best checkpoint ----------------------------------


def _logged(workdir, key):
  """{step: value} of `key` in a workdir's metrics.jsonl."""
  rows = map(json.loads, open(os.path.join(workdir, "metrics.jsonl")))
  return {r["step"]: r[key] for r in rows if key in r}


@pytest.mark.filterwarnings("ignore:Matrix is singular")  # 128 samples, 128-d features
def test_sample_metrics_follow_their_schedule_and_the_best_fid_is_kept(tmp_path, tiny_fmnist):
  c = tiny_fmnist  # 20 steps, eval every 10
  c.evals.samples.update(every=5, num=128, metrics="fid")
  c.evals.reconstructions.update(every=5, num=128)
  c.eval.cache_dir = str(tmp_path / "cache")
  c.best_metric = "eval/fid"
  _, summary = train.train_and_evaluate(c, str(tmp_path))
  fid = _logged(tmp_path, "eval/fid")
  assert sorted(fid) == sorted(_logged(tmp_path, "eval/ms_ssim")) == [5, 10, 15, 20]
  assert sorted(_logged(tmp_path, "eval/neg_elbo")) == [10, 20]
  assert "eval/kid" not in summary["eval"]
  best_step = min(fid, key=fid.get)
  assert _best_steps(tmp_path) == [best_step]
  record = checkpoint.read_best(tmp_path)
  assert record == {"metric": "eval/fid", "mode": "min", "value": fid[best_step],
                    "step": best_step} == summary["best"]
  assert os.listdir(tmp_path / "cache")  # real features went to config.eval.cache_dir


def test_resume_keeps_the_stored_best_and_clis_restore_it(tmp_path, tiny_fmnist):
  """eval/kl (min) rises as the VAE starts to use its latents: the first eval is the best, and
  the resumed run must keep it rather than save its own first, worse value."""
  c = tiny_fmnist
  c.eval_every = 5
  c.evals.samples.update(every=0, num=64, metrics="kid")  # every=0: with every eval
  c.eval.cache_dir = str(tmp_path / "cache")
  c.best_metric, c.best_mode = "eval/kl", "min"
  c.num_steps = 10
  train.train_and_evaluate(c, str(tmp_path))
  first = checkpoint.read_best(tmp_path)
  c.num_steps = 20
  _, summary = train.train_and_evaluate(c, str(tmp_path))
  kl = _logged(tmp_path, "eval/kl")
  assert sorted(kl) == sorted(_logged(tmp_path, "eval/kid")) == [5, 10, 15, 20]
  assert min(kl[15], kl[20]) > kl[5] == min(kl.values())  # later values are worse
  assert first == checkpoint.read_best(tmp_path) == summary["best"]
  assert first["step"] == 5 and _best_steps(tmp_path) == [5]

  run = Run(c, str(tmp_path))
  assert int(run.restore("best").step) == 5
  run.checkpoints.close()
  out = tmp_path / "best.json"
  run_cli("-m", "jaxgen.evaluate", "--workdir", str(tmp_path), "--step", "best", "--num", "128",
          "--out", str(out))
  result = json.loads(out.read_text())
  assert result["step"] == 5 and result["best"] == first


@pytest.mark.parametrize("best_metric, sample_metrics, message", [
    ("eval/neg_elbow", "", r"config.best_metric='eval/neg_elbow'.*eval/neg_elbo"),
    ("eval/fid", "", r"config.best_metric='eval/fid'.*eval/neg_elbo.*config.evals"),
    ("eval/fid", "fid,fdi", r"config.evals.samples: metrics='fid,fdi'; expected any of fid"),
])
def test_bad_metric_names_fail_before_training(tmp_path, tiny_fmnist, best_metric,
                                               sample_metrics, message):
  tiny_fmnist.best_metric = best_metric
  if sample_metrics:
    tiny_fmnist.evals.samples.update(every=0, metrics=sample_metrics)
  with pytest.raises(ValueError, match=message):
    train.train_and_evaluate(tiny_fmnist, str(tmp_path))
  assert not (tmp_path / "metrics.jsonl").exists()


def test_inception_score_without_logits_fails_before_training(tmp_path, tiny_fmnist):
  """The fetched FID Inception weights are pool3 only: `is` is refused at startup."""
  tiny_fmnist.evals.samples.update(every=0, metrics="fid,is", extractor="inception")
  with pytest.raises(ValueError, match="config.evals.samples: is: the Inception Score needs"):
    train.train_and_evaluate(tiny_fmnist, str(tmp_path))
  assert not (tmp_path / "metrics.jsonl").exists()
