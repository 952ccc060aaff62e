"""Each model file's `default_config(name)` holds exactly the keys its builder reads, plus those
its method reads: a model's config carries no other model's keys, and lacks none of its own."""

import pytest

from jaxgen.models import classifier, draw, gan, gated_pixelcnn, pixelcnn, pixelrnn, row_rnn, vae
from jaxgen.types import ModelSpec


class Recorder:
  """Attribute access to a config, recording which keys were read."""

  def __init__(self, config):
    self._config, self.read = config, set()

  def __getattr__(self, key):
    self.read.add(key)
    return getattr(self._config, key)


# (model file, name or None, spec, keys the method reads besides the builder)
CASES = [
    *[(gan, name, ModelSpec((28, 28, 1), 10), {"latent_dim"}) for name in ("mlp", "infogan")],
    (gan, "dcgan", ModelSpec((32, 32, 1), 10), {"latent_dim"}),
    (vae, "mlp", ModelSpec((28, 28, 1), 10), set()),
    (vae, "conv", ModelSpec((32, 32, 1), 10), set()),
    *[(draw, name, ModelSpec((8, 8, 1), 10), {"steps"}) for name in ("attention", "no_attention")],
    (classifier, None, ModelSpec((28, 28, 1), 10), set()),
    (pixelcnn, "pixelcnn", ModelSpec((28, 28, 1), 10, 1), {"name"}),
    (gated_pixelcnn, "gated_pixelcnn", ModelSpec((28, 28, 1), 10, 1), {"name"}),
    *[(pixelrnn, name, ModelSpec((28, 28, 1), 10, 1), set())
      for name in ("row_lstm", "diagonal_bilstm")],
    (row_rnn, "row_rnn", ModelSpec((28, 28, 1), 10, 1), {"name"}),
]


@pytest.mark.parametrize("file,name,spec,method_reads", CASES,
                         ids=[f"{c[0].__name__.split('.')[-1]}-{c[1]}" for c in CASES])
def test_default_config_holds_exactly_the_keys_make_reads(file, name, spec, method_reads):
  config = file.default_config() if name is None else file.default_config(name)
  recorder = Recorder(config)
  file.make(recorder, spec)
  assert recorder.read | method_reads == set(config)
  assert not recorder.read & method_reads  # a key the builder reads is not listed twice
