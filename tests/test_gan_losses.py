"""GAN losses against their textbook formulas (float64 numpy), gradients and closed forms."""

import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import losses

REAL = np.array([-3.0, -0.5, 0.0, 1.2, 4.0])
FAKE = np.array([2.0, 0.3, -1.0, -2.5, 0.0])


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def _close(actual, expected):
  np.testing.assert_allclose(np.asarray(actual), expected, rtol=1e-6, atol=1e-6)


# ----- Loss pairs on fixed logits -------------------------------------------------------------


def test_minimax_and_non_saturating_match_their_formulas():
  d_real, d_fake = _sigmoid(REAL), _sigmoid(FAKE)
  real, fake = jnp.asarray(REAL, jnp.float32), jnp.asarray(FAKE, jnp.float32)
  _close(losses.minimax_d(real, fake), -np.log(d_real) - np.log(1.0 - d_fake))
  _close(losses.minimax_g(fake), np.log(1.0 - d_fake))
  _close(losses.non_saturating_g(fake), -np.log(d_fake))
  # Written out for the first pair: -log σ(-3) - log(1 - σ(2)) = 3.04859 + 2.12693.
  _close(losses.minimax_d(real, fake)[0], 3.0485874 + 2.1269280)


def test_lsgan_hinge_wasserstein_match_their_formulas():
  real, fake = jnp.asarray(REAL, jnp.float32), jnp.asarray(FAKE, jnp.float32)
  _close(losses.lsgan_d(real, fake), 0.5 * (REAL - 1.0) ** 2 + 0.5 * FAKE ** 2)
  _close(losses.lsgan_g(fake), 0.5 * (FAKE - 1.0) ** 2)
  _close(losses.lsgan_d(real, fake, a=-1.0, b=2.0),
         0.5 * (REAL - 2.0) ** 2 + 0.5 * (FAKE + 1.0) ** 2)
  _close(losses.hinge_d(real, fake), np.maximum(0, 1 - REAL) + np.maximum(0, 1 + FAKE))
  _close(losses.hinge_d(real, fake), [4.0 + 3.0, 1.5 + 1.3, 1.0 + 0.0, 0.0 + 0.0, 0.0 + 1.0])
  _close(losses.hinge_g(fake), -FAKE)
  _close(losses.wasserstein_d(real, fake), FAKE - REAL)
  _close(losses.wasserstein_g(fake), -FAKE)


def test_log_losses_are_stable_at_extreme_logits():
  big = jnp.array([100.0, -100.0])
  _close(losses.minimax_d(big, -big), [0.0, 200.0])
  _close(losses.minimax_g(big), [-100.0, 0.0])
  _close(losses.non_saturating_g(big), [0.0, 100.0])


def test_minimax_generator_saturates_and_non_saturating_does_not():
  """Where D rejects the fakes (D(G(z)) → 0), log(1 - D) has a vanishing gradient and
  -log D does not (Goodfellow et al. 2014, section 3)."""
  fake = jnp.array([-10.0, -5.0, 0.0])
  minimax = jax.grad(lambda f: jnp.sum(losses.minimax_g(f)))(fake)
  non_saturating = jax.grad(lambda f: jnp.sum(losses.non_saturating_g(f)))(fake)
  _close(minimax, -_sigmoid(np.array([-10.0, -5.0, 0.0])))
  _close(non_saturating, -(1.0 - _sigmoid(np.array([-10.0, -5.0, 0.0]))))
  assert abs(minimax[0]) < 1e-4 and abs(non_saturating[0]) > 0.99
  assert float(minimax[2]) == pytest.approx(float(non_saturating[2]))  # equal at D = 1/2


@pytest.mark.parametrize("name", sorted(losses.GAN_LOSSES))
def test_losses_are_unreduced_and_reject_column_logits(name):
  pair = losses.get_gan_loss(name)
  real, fake = jnp.asarray(REAL, jnp.float32), jnp.asarray(FAKE, jnp.float32)
  assert pair.d(real, fake).shape == (5,) and pair.g(fake).shape == (5,)
  with pytest.raises(AssertionError):
    pair.d(real[:, None], fake[:, None])
  with pytest.raises(AssertionError):
    pair.d(real, fake[:4])
  with pytest.raises(AssertionError):
    pair.g(fake[:, None])


def test_gan_loss_table():
  assert set(losses.GAN_LOSSES) == {"minimax", "non_saturating", "lsgan", "lsgan_sigmoid", "hinge",
                                    "wgan_gp"}
  assert [n for n, p in losses.GAN_LOSSES.items() if p.gradient_penalty] == ["wgan_gp"]
  wgan = losses.get_gan_loss("wgan_gp")
  assert wgan.d is losses.wasserstein_d and wgan.g is losses.wasserstein_g
  assert losses.get_gan_loss("minimax").g is losses.minimax_g
  assert losses.get_gan_loss("non_saturating").g is losses.non_saturating_g


def test_get_gan_loss_resolves_import_paths(monkeypatch):
  custom = losses.GanLoss(losses.hinge_d, losses.non_saturating_g, gradient_penalty=True)
  module = types.ModuleType("my_pkg_gan_losses")
  module.my_pair = custom
  module.not_a_pair = losses.hinge_d
  monkeypatch.setitem(sys.modules, "my_pkg_gan_losses", module)
  assert losses.get_gan_loss("my_pkg_gan_losses:my_pair") is custom
  with pytest.raises(TypeError):
    losses.get_gan_loss("my_pkg_gan_losses:not_a_pair")
  with pytest.raises(ValueError):
    losses.get_gan_loss("wgan")


# ----- Penalties ------------------------------------------------------------------------------


def _linear_critic(w):
  return lambda x: x.reshape(x.shape[0], -1) @ w


def test_gradient_penalty_vanishes_for_a_unit_norm_linear_critic():
  rng = np.random.default_rng(0)
  real, fake = (jnp.asarray(rng.normal(size=(6, 2, 2, 1)), jnp.float32) for _ in range(2))
  w = jnp.array([0.5, -0.5, 0.5, 0.5])  # ‖w‖ = 1: the gradient everywhere
  _close(losses.gradient_penalty(_linear_critic(w), real, fake, jax.random.key(0)), np.zeros(6))
  penalty = losses.gradient_penalty(_linear_critic(3.0 * w), real, fake, jax.random.key(0))
  _close(penalty, np.full(6, (3.0 - 1.0) ** 2))
  assert penalty.shape == (6,)


def test_gradient_penalty_interpolates_per_example():
  """With critic ½‖x‖², ∇ at x̂ = εx + (1-ε)·0 is εx, so the penalty reveals each ε."""
  x = jnp.ones((256, 3)) / np.sqrt(3.0)  # ‖x‖ = 1, so penalty = (ε - 1)²
  critic = lambda v: 0.5 * jnp.sum(v ** 2, axis=-1)
  eps = 1.0 - np.sqrt(np.asarray(losses.gradient_penalty(critic, x, jnp.zeros_like(x),
                                                         jax.random.key(1))))
  assert np.all((eps >= 0) & (eps <= 1)) and len(np.unique(eps.round(6))) > 250
  assert abs(eps.mean() - 0.5) < 0.06 and abs(eps.var() - 1 / 12) < 0.02  # U[0, 1]


def test_gradient_penalty_gradient_is_finite_where_the_critic_is_flat():
  real, fake = jnp.ones((4, 3)), jnp.zeros((4, 3))
  grad = jax.grad(lambda w: jnp.sum(losses.gradient_penalty(
      _linear_critic(w), real, fake, jax.random.key(0))))(jnp.zeros(3))
  assert np.all(np.isfinite(grad))


def test_r1_penalty_is_the_squared_input_gradient_norm():
  rng = np.random.default_rng(2)
  x = jnp.asarray(rng.normal(size=(5, 2, 3)), jnp.float32)
  w = jnp.asarray(rng.normal(size=6), jnp.float32)
  _close(losses.r1_penalty(_linear_critic(w), x), np.full(5, np.sum(np.square(w))))
  quadratic = lambda v: 0.5 * jnp.sum(v ** 2, axis=(1, 2))
  _close(losses.r1_penalty(quadratic, x), np.sum(np.square(np.asarray(x)), axis=(1, 2)))
