"""The Method contract (jaxgen/methods/base.py) from a researcher's side: a minimal method
written only against it, plugged in by import path ("test_method_contract:make") and trained
by the real trainer, which owns the step counter. It stays at the top of tests/, which is on
sys.path, so that its import path resolves. The contract's pieces on their own:
methods/test_base.py."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from helpers import assert_trees_equal
from jaxgen import config as config_lib
from jaxgen import prng, train
from jaxgen.methods.base import Method, TrainState, apply_update

STEPS = 12


def make(config, spec):
  """A per-pixel Gaussian x ~ N(μ, I) with μ learned by SGD on jittered data, x + 0.1 ε (ε
  from the step's key), through the contract's `apply_update`. Its collections record, at
  index state.step, what each step saw: the batch's sum and its first noise draw."""
  del spec  # the shapes come from the batch
  tx = optax.sgd(config.optimizer.lr)

  def init(key, batch):
    del key
    params = {"mean": jnp.zeros(batch["image"].shape[1:], jnp.float32)}
    seen = {"batch_sum": jnp.zeros(STEPS), "noise": jnp.zeros(STEPS)}
    return TrainState(step=jnp.zeros((), jnp.int32), params={"model": params},
                      opt_state={"model": tx.init(params)}, collections={"seen": seen})

  def train_step(state, batch, key):
    x = batch["image"]
    eps = jax.random.normal(key, x.shape)

    def loss_fn(params):
      return 0.5 * jnp.mean(jnp.square(x + 0.1 * eps - params["mean"])), None

    u = apply_update(state.params["model"], state.opt_state["model"], tx, loss_fn)
    seen = state.collections["seen"]
    seen = {"batch_sum": seen["batch_sum"].at[state.step].set(jnp.sum(x)),
            "noise": seen["noise"].at[state.step].set(eps.reshape(-1)[0])}
    return state.replace(params={"model": u.params}, opt_state={"model": u.opt_state},
                         collections={"seen": seen}), {"loss": u.loss, **u.norms}

  def eval_step(state, batch, key):
    del key
    sq = jnp.square(batch["image"] - state.params["model"]["mean"])
    return {"nll": 0.5 * jnp.sum(sq.reshape(sq.shape[0], -1), axis=1)}

  def sample(state, key, num, labels=None):
    del labels
    mean = state.params["model"]["mean"]
    return jnp.clip(mean + 0.1 * jax.random.normal(key, (num, *mean.shape)), 0.0, 1.0)

  return Method(init=init, train_step=train_step, eval_step=eval_step, sample=sample)


def _changing_step(delta):
  """make's method, except that train_step returns step + delta, as methods did before the
  trainer owned the counter (delta 1) or as a method that meddles with it would."""
  def make_changing(config, spec):
    method = make(config, spec)

    def train_step(state, batch, key):
      new_state, metrics = method.train_step(state, batch, key)
      return new_state.replace(step=state.step + delta), metrics
    return method._replace(train_step=train_step)
  return make_changing


make_old_style, make_jumping = _changing_step(1), _changing_step(7)


def contract_config(method="test_method_contract:make", steps=STEPS):
  c = config_lib.base()
  c.method = method
  c.model = ml_collections.ConfigDict(dict(name="gaussian"))  # the trainer reads model.name
  c.data.update(train_split="train[:512]", preprocess="scale01")  # 8 steps per epoch
  c.optimizer.lr = 0.5
  config_lib.tiny_schedule(c, steps=steps)
  c.log_every = 1
  c.evals.likelihood.num = 256
  return c


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  c = contract_config()
  return c, train.train_and_evaluate(c, str(tmp_path_factory.mktemp("straight")))


def test_a_minimal_method_trains_through_the_trainer(straight):
  c, (state, summary) = straight
  assert int(state.step) == STEPS == summary["step"] and summary["compiles"] == 1
  assert set(summary["eval"]) == {"eval/nll"} and np.isfinite(summary["eval"]["eval/nll"])
  seen = jax.device_get(state.collections["seen"])
  # Every step saw its own batch (the epoch boundary at step 8 included) and its own noise,
  # the noise from the trainer's key for the step before it was advanced.
  assert len(set(seen["batch_sum"].tolist())) == STEPS
  train_key = prng.run_keys(c.seed)["train"]
  expected = [jax.random.normal(jax.random.fold_in(train_key, s), (c.batch_size, 28, 28, 1))
              .reshape(-1)[0] for s in range(STEPS)]
  np.testing.assert_array_equal(seen["noise"], np.asarray(expected))
  assert len(set(seen["noise"].tolist())) == STEPS


def test_a_minimal_method_resumes_bit_identically(tmp_path, straight):
  _, (straight_state, _) = straight
  train.train_and_evaluate(contract_config(steps=5), str(tmp_path))
  resumed, summary = train.train_and_evaluate(contract_config(), str(tmp_path))
  assert summary["step"] == STEPS
  assert_trees_equal(jax.device_get(straight_state), jax.device_get(resumed))


@pytest.mark.parametrize("maker", ["make_old_style", "make_jumping"])
def test_a_step_returned_by_the_method_is_overridden(tmp_path, straight, maker):
  """The trainer sets step = state.step + 1 whatever train_step returned: a method written
  for the old contract (returning step + 1) or one changing step at will trains exactly as
  one that leaves it alone."""
  _, (straight_state, _) = straight
  state, summary = train.train_and_evaluate(
      contract_config(method=f"test_method_contract:{maker}"), str(tmp_path))
  assert summary["step"] == STEPS
  assert_trees_equal(jax.device_get(straight_state), jax.device_get(state))
