"""jaxgen.evaluators.sample_quality: which metrics the evaluator reports for which extractor."""

from helpers import load_config
from jaxgen.evaluators.sample_quality import SampleQuality
from jaxgen.metrics import sample_quality
from jaxgen.run import Run


def test_class_accuracy_only_from_a_classifier_of_the_datasets_classes(tmp_path):
  """Inception's 1008 classes are not Fashion-MNIST's: conditional samples get a class accuracy
  from the domain classifier only."""
  run = Run(load_config("cgan_fashion_mnist", "tiny"), str(tmp_path))
  inception_like = sample_quality.Extractor(None, "inception-x", has_logits=True)
  domain_like = sample_quality.Extractor(None, "domain-x", dataset_classes=True)
  assert "class_accuracy" not in SampleQuality(run, extractor=inception_like).metric_names()
  assert SampleQuality(run, extractor=domain_like).metric_names() == ["fid", "class_accuracy"]
  run.checkpoints.close()
