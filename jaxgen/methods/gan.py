"""GANs (Goodfellow et al. 2014) as a `Method`: MLP GAN, DCGAN, LSGAN, hinge, WGAN-GP, cGAN.

Config keys read (all declared in `default_method_config`):
  model.*: the generator and discriminator, see jaxgen.models.gan (model.latent_dim is the size
        of z; model.conditional feeds labels to both networks)
  loss: a discriminator/generator loss pair, see jaxgen.losses.GAN_LOSSES ("module:attr" for
        your own `GanLoss`)
  optimizer: the generator's; d_optimizer: the discriminator's (see jaxgen.optim.default_config)
  gan.n_critic: discriminator steps per generator step
  gan.prior: z's distribution, a key of jaxgen.methods.latent.PRIORS: "normal" (N(0, I)) or
        "uniform" (U[-1, 1] per dimension, as DCGAN's and compare_gan's code draw it)
  gan.gp_weight: λ of the WGAN-GP penalty, for loss pairs with gradient_penalty=True
  gan.r1_weight: γ of the R1 penalty on real data, added as γ/2 · R1 (0: off)
  gan.ema_decay: keeps an EMA of the generator, its weights and its batch statistics alike, used
        by sample and eval; in [0, 1), 0 keeps none (which samples as an EMA of decay 0 would:
        the live generator)
  data.preprocess: the data range the generator learns, which sets how `sample` maps to [0, 1]

Update order of one `train_step` on a batch of B real examples:
  1. The batch is split into n_critic equal chunks of B / n_critic. D step i (i = 0 .. n_critic-1)
     trains D on chunk i against as many fresh fakes G(z_i), starting from D's parameters after
     step i - 1, with G fixed. Every critic iteration sees new real data, as in Gulrajani et al.
     2017 (algorithm 1): set batch_size = n_critic × the paper's batch.
  2. One G step on B / n_critic fresh latents, against the D of step 1's end.
  3. ema = decay · ema + (1 - decay) · live, for G's new parameters and for its collections
     (batch-norm running means and variances) after the step (`ema_update`).
  Conditional fakes in D steps take their chunk's real labels (so the penalties interpolate
  within a class); the G step draws labels uniformly.

Metrics (scalars; D's are means over the n_critic steps): loss = d_loss + g_loss, so the
trainer's non-finite check covers both players; d_loss includes the weighted penalties, while
gp and r1 (present when used) are the unweighted penalties; d_real and d_fake are mean logits;
l2_grads_{d,g}, l2_updates_{d,g}, and l2_params_{d,g} after the step.

Randomness: `key` is split into n_critic + 1 keys, keys[i] for D step i (split into latent and
penalty keys) and keys[n_critic] for the G step (split into latent and label keys).

Every network call in training runs in train mode and threads the mutable collections (batch
norm statistics, spectral-norm power iterations) in the order above; the penalties' extra passes
leave them untouched. Sampling and evaluation run in inference mode on the stored collections:
the EMA generator on its own averaged ones.
"""

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgen import losses
from jaxgen import optim
from jaxgen.methods import latent
from jaxgen.methods.base import Batch, Method, Metrics, PRNGKey, TrainState, apply_update
from jaxgen.models import gan as gan_models
from jaxgen.types import DataSpec, ModelSpec


def default_method_config(model: str = "mlp") -> ml_collections.ConfigDict:
  """Every key `make` reads, with defaults: the classic MLP GAN (`model`: a key of
  jaxgen.models.gan.MODELS, with its own keys only), trained with DCGAN's optimizer settings
  (Adam 2e-4, β1 = 0.5; Radford et al. 2016) and the non-saturating loss."""
  return ml_collections.ConfigDict(dict(
      method="gan",
      model=gan_models.default_config(model),
      loss="non_saturating",
      optimizer=optim.default_config(lr=2e-4, b1=0.5),
      d_optimizer=optim.default_config(lr=2e-4, b1=0.5),
      gan=dict(n_critic=1, prior="normal", gp_weight=10.0, r1_weight=0.0, ema_decay=0.0),
  ))


def ema_update(ema, live, decay: float):
  """decay · ema + (1 - decay) · live, leaf by leaf, over matching pytrees: the generator's
  weights and its collections (batch-norm running statistics) alike, as BigGAN-PyTorch's `ema`
  averages the generator's whole state dict. The live generator's statistics belong to the live
  weights, not to the averaged ones; averaging them too, rather than recomputing standing
  statistics before sampling, keeps sampling one inference pass."""
  return jax.tree.map(lambda e, x: decay * e + (1.0 - decay) * x, ema, live)


def _apply(net, params, collections, *args, train):
  """net(*args, train=train) -> (out, collections after the call); in inference mode the
  collections come back unchanged."""
  variables = {"params": params, **collections}
  if not train:
    return net.apply(variables, *args, train=False), collections
  out, updated = net.apply(variables, *args, train=True, mutable=list(collections))
  return out, {**collections, **updated}


def _sampling_generator(state: TrainState) -> tuple:
  """(weights, collections) of the generator that samples and is evaluated: the EMA one where
  the state keeps it, else the live one."""
  if state.ema_params is None:
    return state.params["generator"], state.collections["generator"]
  return state.ema_params["generator"], state.ema_collections["generator"]


class _Networks:
  """The pieces every GAN function needs, built once per (config, spec)."""

  def __init__(self, config: ml_collections.ConfigDict, spec: DataSpec):
    self.generator, self.discriminator = gan_models.make(config.model, ModelSpec.of(spec))
    self.latent_dim = config.model.latent_dim
    if config.gan.prior not in latent.PRIORS:
      raise ValueError(f"gan.prior {config.gan.prior!r}: expected one of {sorted(latent.PRIORS)}")
    self.prior = config.gan.prior
    self.conditional = config.model.conditional
    self.num_classes = spec.num_classes
    self.points = len(spec.image_shape) == 1  # 2-D toy data: samples are raw points
    self.scale11 = config.data.preprocess == "scale11"

  def latents(self, key: PRNGKey, num: int) -> jax.Array:
    """[num, latent_dim] draws of z from gan.prior."""
    return latent.PRIORS[self.prior](key, (num, self.latent_dim))

  def default_labels(self, num: int) -> jax.Array:
    """0, 1, ..., num_classes - 1, 0, 1, ... (zeros for unconditional models, which ignore
    them): every class equally often in a sample grid."""
    if not self.conditional:
      return jnp.zeros((num,), jnp.int32)
    return jnp.arange(num, dtype=jnp.int32) % self.num_classes

  def random_labels(self, key: PRNGKey, num: int) -> jax.Array:
    if not self.conditional:
      return jnp.zeros((num,), jnp.int32)
    return jax.random.randint(key, (num,), 0, self.num_classes, jnp.int32)

  def generate(self, state: TrainState, z: jax.Array, labels: jax.Array) -> jax.Array:
    """Inference-mode samples of the EMA generator (the live one without EMA), in [0, 1]
    for images and raw for points."""
    x, _ = _apply(self.generator, *_sampling_generator(state), z, labels, train=False)
    if self.points:
      return x.astype(jnp.float32)
    x = (x + 1.0) / 2.0 if self.scale11 else x
    return jnp.clip(x, 0.0, 1.0).astype(jnp.float32)


def make(config: ml_collections.ConfigDict, spec: DataSpec) -> Method:
  nets = _Networks(config, spec)
  generator, discriminator = nets.generator, nets.discriminator
  pair = losses.get_gan_loss(config.loss)
  tx_g, tx_d = optim.make(config.optimizer), optim.make(config.d_optimizer)
  n_critic = config.gan.n_critic
  gp_weight, r1_weight, ema_decay = config.gan.gp_weight, config.gan.r1_weight, config.gan.ema_decay
  if n_critic < 1:
    raise ValueError(f"gan.n_critic must be >= 1, got {n_critic}")
  if not 0.0 <= ema_decay < 1.0:
    raise ValueError(f"gan.ema_decay must be in [0, 1), got {ema_decay}")

  def init(key: PRNGKey, batch: Batch) -> TrainState:
    g_key, d_key = jax.random.split(key)
    x = batch["image"]
    labels = nets.default_labels(x.shape[0])
    z = jnp.zeros((x.shape[0], nets.latent_dim), jnp.float32)
    g_vars = generator.init(g_key, z, labels, train=True)
    d_vars = discriminator.init(d_key, x, labels, train=True)
    params = {"generator": g_vars["params"], "discriminator": d_vars["params"]}
    collections = {"generator": {k: v for k, v in g_vars.items() if k != "params"},
                   "discriminator": {k: v for k, v in d_vars.items() if k != "params"}}
    keep_ema = ema_decay > 0  # the EMA generator starts as the live one
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      opt_state={"generator": tx_g.init(params["generator"]),
                                 "discriminator": tx_d.init(params["discriminator"])},
                      collections=collections,
                      ema_params={"generator": params["generator"]} if keep_ema else None,
                      ema_collections={"generator": collections["generator"]} if keep_ema
                      else None)

  def d_step(g_params, carry, inputs):
    """One discriminator update on one chunk of real data; G's parameters are fixed."""
    d_params, d_opt_state, g_coll, d_coll = carry
    real, labels, key = inputs
    z_key, penalty_key = jax.random.split(key)
    z = nets.latents(z_key, real.shape[0])
    fake, g_coll = _apply(generator, g_params, g_coll, z, labels, train=True)
    fake = jax.lax.stop_gradient(fake)

    def loss_fn(params):
      real_logits, coll = _apply(discriminator, params, d_coll, real, labels, train=True)
      fake_logits, coll = _apply(discriminator, params, coll, fake, labels, train=True)
      # The penalties' passes see the collections this step started from and drop their updates.
      critic = lambda x: _apply(discriminator, params, d_coll, x, labels, train=True)[0]
      loss = jnp.mean(pair.d(real_logits, fake_logits))
      aux = dict(d_real=jnp.mean(real_logits), d_fake=jnp.mean(fake_logits))
      if pair.gradient_penalty:
        aux["gp"] = jnp.mean(losses.gradient_penalty(critic, real, fake, penalty_key))
        loss += gp_weight * aux["gp"]
      if r1_weight > 0:
        aux["r1"] = jnp.mean(losses.r1_penalty(critic, real))
        loss += 0.5 * r1_weight * aux["r1"]
      return loss, (coll, aux)

    u = apply_update(d_params, d_opt_state, tx_d, loss_fn)
    d_coll, aux = u.aux
    metrics = dict(d_loss=u.loss, l2_grads_d=u.norms["l2_grads"],
                   l2_updates_d=u.norms["l2_updates"], **aux)
    return (u.params, u.opt_state, g_coll, d_coll), metrics

  def train_step(state: TrainState, batch: Batch, key: PRNGKey) -> tuple[TrainState, Metrics]:
    x, labels = batch["image"], batch["label"]
    if x.shape[0] % n_critic:
      raise ValueError(f"batch of {x.shape[0]} does not split into gan.n_critic={n_critic} "
                       "equal chunks, one per discriminator step")
    chunk = x.shape[0] // n_critic
    keys = jax.random.split(key, n_critic + 1)
    g_params = state.params["generator"]

    carry = (state.params["discriminator"], state.opt_state["discriminator"],
             state.collections["generator"], state.collections["discriminator"])
    # A Python loop, not lax.scan: XLA:CPU runs convolutions inside a loop body about 10x
    # slower (even a one-trip loop; benchmarks/speed.py), and n_critic is small.
    d_metrics = []
    for i in range(n_critic):
      rows = slice(i * chunk, (i + 1) * chunk)
      carry, metrics = d_step(g_params, carry, (x[rows], labels[rows], keys[i]))
      d_metrics.append(metrics)
    d_params, d_opt_state, g_coll, d_coll = carry

    z_key, label_key = jax.random.split(keys[n_critic])
    z = nets.latents(z_key, chunk)
    fake_labels = nets.random_labels(label_key, chunk)

    def g_loss_fn(params):
      fake, g_coll_new = _apply(generator, params, g_coll, z, fake_labels, train=True)
      logits, d_coll_new = _apply(discriminator, d_params, d_coll, fake, fake_labels, train=True)
      return jnp.mean(pair.g(logits)), (g_coll_new, d_coll_new)

    g = apply_update(g_params, state.opt_state["generator"], tx_g, g_loss_fn)
    g_params, (g_coll, d_coll) = g.params, g.aux

    ema_params, ema_collections = state.ema_params, state.ema_collections
    if ema_params is not None:
      ema_g = ema_update(_sampling_generator(state), (g_params, g_coll), ema_decay)
      ema_params, ema_collections = {"generator": ema_g[0]}, {"generator": ema_g[1]}
    metrics = {k: jnp.mean(jnp.stack([m[k] for m in d_metrics])) for k in d_metrics[0]}
    metrics.update(loss=metrics["d_loss"] + g.loss, g_loss=g.loss,
                   l2_grads_g=g.norms["l2_grads"], l2_updates_g=g.norms["l2_updates"],
                   l2_params_g=g.norms["l2_params"], l2_params_d=optax.tree.norm(d_params))
    new_state = state.replace(
        params={"generator": g_params, "discriminator": d_params},
        opt_state={"generator": g.opt_state, "discriminator": d_opt_state},
        collections={"generator": g_coll, "discriminator": d_coll},
        ema_params=ema_params, ema_collections=ema_collections)
    return new_state, metrics

  def eval_step(state: TrainState, batch: Batch, key: PRNGKey) -> Metrics:
    """Per-example D scores of real images and of as many fresh fakes (of the generator that
    `sample` uses, with the real labels), and both players' losses on them (no penalties)."""
    x, labels = batch["image"], batch["label"]
    d_params, d_coll = state.params["discriminator"], state.collections["discriminator"]
    z = nets.latents(key, x.shape[0])
    fake, _ = _apply(generator, *_sampling_generator(state), z, labels, train=False)
    real_logits, _ = _apply(discriminator, d_params, d_coll, x, labels, train=False)
    fake_logits, _ = _apply(discriminator, d_params, d_coll, fake, labels, train=False)
    return dict(d_real=real_logits, d_fake=fake_logits, d_loss=pair.d(real_logits, fake_logits),
                g_loss=pair.g(fake_logits))

  def sample(state: TrainState, key: PRNGKey, num: int, labels=None) -> jax.Array:
    """[num, *image_shape] images in [0, 1] (raw points for 2-D data); labels: int [num] for
    conditional models, None for classes 0, 1, ..., num_classes - 1, 0, ... in turn."""
    labels = nets.default_labels(num) if labels is None else jnp.asarray(labels, jnp.int32)
    return nets.generate(state, nets.latents(key, num), labels)

  def interpolate(state: TrainState, key: PRNGKey, num_rows: int, steps: int,
                  labels=None) -> jax.Array:
    """[num_rows · steps, *image_shape]: one walk per row (`latent.interpolation_grid`).
    A conditional model keeps row r's label along the row: labels[r], by default
    r mod num_classes."""
    z = latent.interpolation_grid(key, num_rows, steps, nets.latent_dim, nets.prior)
    labels = nets.default_labels(num_rows) if labels is None else jnp.asarray(labels, jnp.int32)
    return nets.generate(state, z, jnp.repeat(labels, steps))

  return Method(init=init, train_step=train_step, eval_step=eval_step, sample=sample,
                interpolate=interpolate)

