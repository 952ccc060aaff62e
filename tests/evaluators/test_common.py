"""jaxgen.evaluators.from_config: which entries of config.evals run, when, and the errors a bad
entry gives before anything is compiled."""

import ml_collections
import pytest

from jaxgen import evaluators
from jaxgen.evaluators.likelihood import Likelihood
from jaxgen.evaluators.reconstruction import Reconstruction
from jaxgen.run import Run


@pytest.fixture
def run(tmp_path, tiny_fmnist):
  r = Run(tiny_fmnist, str(tmp_path))
  yield r
  r.checkpoints.close()


def _build(run, **entries):
  evals = ml_collections.ConfigDict(entries)
  return evaluators.from_config(run, evals, eval_every=10, seed=0)


def test_active_entries_in_order_with_their_schedule(run):
  built = _build(run, likelihood=dict(type="likelihood", every=0),
                 off=dict(type="reconstruction", every=-1),
                 recon=dict(type="reconstruction", every=3, num=8))
  assert list(built) == ["likelihood", "recon"]  # `off` is skipped
  (every_l, lik), (every_r, rec) = built["likelihood"], built["recon"]
  assert (every_l, every_r) == (10, 3)  # 0 follows eval_every
  assert isinstance(lik, Likelihood) and isinstance(rec, Reconstruction) and rec.num == 8
  assert rec.metric_names() == ["ssim", "ms_ssim", "psnr"]
  assert "neg_elbo" in lik.metric_names()


@pytest.mark.parametrize("entries, message", [
    (dict(x=dict(type="fidelity")), r"config.evals.x.type='fidelity'; expected one of likelihood"),
    (dict(x=dict(type="likelihood", every=-2)), r"config.evals.x.every=-2; expected steps > 0"),
    (dict(x=dict(type="likelihood", nmu=3)), r"config.evals.x: .*unexpected keyword.*nmu"),
    (dict(a=dict(type="reconstruction"), b=dict(type="reconstruction")),
     r"config.evals.b and config.evals.a both log eval/ssim"),
])
def test_bad_entries_name_the_entry(run, entries, message):
  with pytest.raises(ValueError, match=message):
    _build(run, **entries)
