"""Sample metrics during training and the best checkpoint: the schedule in metrics.jsonl, the
best step against the logged values, resume against the stored best, and startup errors."""

import json
import os

import jax.numpy as jnp
import pytest

from helpers import load_config, run_cli
from jaxgen import checkpoint, train
from jaxgen.evaluators.sample_quality import SampleQuality
from jaxgen.run import Run
from jaxgen.metrics import sample_quality


def _logged(workdir, key):
  """{step: value} of `key` in a workdir's metrics.jsonl."""
  rows = map(json.loads, open(os.path.join(workdir, "metrics.jsonl")))
  return {r["step"]: r[key] for r in rows if key in r}


def _best_steps(workdir):
  return sorted(int(s) for s in os.listdir(workdir / checkpoint.BEST_DIR) if s.isdigit())


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


def test_best_takes_only_finite_strict_improvements_of_its_own_metric(tmp_path):
  state = {"w": jnp.arange(3.0)}
  best = checkpoint.Best(str(tmp_path), "eval/fid", "min")
  assert not best.update(1, float("nan"), state)
  assert best.update(2, 5.0, state)
  assert not best.update(3, float("-inf"), state)
  assert not best.update(4, 5.0, state)  # a tie keeps the earlier step
  assert not best.update(5, 6.0, state)
  assert best.update(6, 4.0, state)
  best.close()
  assert checkpoint.read_best(tmp_path) == {"metric": "eval/fid", "mode": "min", "value": 4.0,
                                            "step": 6}
  assert _best_steps(tmp_path) == [6]
  with pytest.raises(ValueError, match=r"keeps the best eval/fid \(min\).*'eval/kid'"):
    checkpoint.Best(str(tmp_path), "eval/kid", "min")
  maximize = checkpoint.Best(str(tmp_path / "max"), "eval/is", "max")
  assert maximize.update(1, 2.0, state) and not maximize.update(2, 1.0, state)
  maximize.close()


def test_inception_score_without_logits_fails_before_training(tmp_path, tiny_fmnist):
  """The fetched FID Inception weights are pool3 only: `is` is refused at startup."""
  tiny_fmnist.evals.samples.update(every=0, metrics="fid,is", extractor="inception")
  with pytest.raises(ValueError, match="config.evals.samples: is: the Inception Score needs"):
    train.train_and_evaluate(tiny_fmnist, str(tmp_path))
  assert not (tmp_path / "metrics.jsonl").exists()


def test_class_accuracy_only_from_a_classifier_of_the_datasets_classes(tmp_path):
  """Inception's 1008 classes are not Fashion-MNIST's: conditional samples get a class accuracy
  from the domain classifier only."""
  run = Run(load_config("cgan_fashion_mnist", "tiny"), str(tmp_path))
  inception_like = sample_quality.Extractor(None, "inception-x", has_logits=True)
  domain_like = sample_quality.Extractor(None, "domain-x", dataset_classes=True)
  assert "class_accuracy" not in SampleQuality(run, extractor=inception_like).metric_names()
  assert SampleQuality(run, extractor=domain_like).metric_names() == ["fid", "class_accuracy"]
  run.checkpoints.close()
