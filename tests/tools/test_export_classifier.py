"""jaxgen.tools.export_classifier: a trained classifier run becomes a domain extractor."""

import jax

from helpers import load_config, run_cli
from jaxgen import train
from jaxgen.metrics import domain
from jaxgen.tools import export_classifier


def test_export_writes_an_extractor_that_loads(tmp_path, monkeypatch):
  c = load_config("classifier_fashion_mnist", "tiny")
  c.num_steps = c.eval_every = c.checkpoint_every = 1
  workdir = str(tmp_path / "run")
  train.train_and_evaluate(c, workdir)
  monkeypatch.setattr(domain, "WEIGHTS_DIR", tmp_path / "weights")  # not the shipped ones
  (tmp_path / "weights").mkdir()
  meta = export_classifier.export(workdir, "fashion_mnist")
  assert domain.info("fashion_mnist") == meta
  assert (meta["dataset"], meta["split"], meta["step"]) == ("fashion_mnist", "test[:256]", 1)
  assert 0.0 <= meta["accuracy"] <= 1.0 and meta["image_shape"] == [28, 28, 1]
  features, logits = domain.load_domain_extractor("fashion_mnist")(
      jax.random.uniform(jax.random.key(0), (4, 28, 28, 1)))
  assert features.shape == (4, c.model.feature_dim) and logits.shape == (4, 10)


def test_the_documented_command_runs():
  proc = run_cli("-m", "jaxgen.tools.export_classifier", "--help")
  assert "--workdir" in proc.stdout and "fashion_mnist" in proc.stdout
