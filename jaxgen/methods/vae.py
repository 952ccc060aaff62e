"""VAE, β-VAE and IWAE (Kingma & Welling 2014; Higgins et al. 2017; Burda et al. 2016) as a
`Method`.

Config keys read (all declared in `default_method_config`, or jaxgen.config.base for data.*):
  model.name, model.latent_dim, model.hidden (mlp), model.features (conv), model.activation,
        model.kernel_init  -> jaxgen.models.vae
  loss: likelihood name, see jaxgen.losses.LIKELIHOODS. Each is a likelihood of one
        data.preprocess mode's output, and `make` refuses any other: bernoulli of binarize
        ({0, 1}), discretized_logistic of scale11 (the 256-level grid of [-1, 1]), gaussian of
        dequantize11 (dequantized into [-1, 1)); gaussian's nats and bits include the
        dequantization correction, so they bound the 8-bit data's (jaxgen.losses.gaussian_nll)
  beta: weight of the KL term in the training loss (evaluation always uses β = 1)
  train_k: importance samples of the training bound: 1 = the ELBO (its KL in closed form),
        k > 1 = the IWAE bound with k samples (Burda et al. 2016; needs beta = 1)
  optimizer: see jaxgen.optim.default_config
  eval.iwae_k: importance samples for the IWAE bound (0: skip); eval.iwae_chunk: samples decoded
        at once, which bounds memory without changing the result

Likelihoods and bits/dim cover the data's pixels only, not the padding of data.pad_to
(DataSpec.padding).
"""

import math
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen import losses
from jaxgen import optim
from jaxgen.methods import latent
from jaxgen.methods.base import Batch, Method, Metrics, PRNGKey, TrainState
from jaxgen.methods.base import optimizer_step, real_pixels
from jaxgen.models import vae as vae_models
from jaxgen.types import DataSpec, ModelSpec


def default_method_config(model: str = "mlp") -> ml_collections.ConfigDict:
  """Every key `make` reads, with defaults: the classic MLP VAE on binarized MNIST (`model`: a
  key of jaxgen.models.vae.MODELS, with its own keys only)."""
  return ml_collections.ConfigDict(dict(
      method="vae",
      model=vae_models.default_config(model),
      loss="bernoulli",
      beta=1.0,
      train_k=1,
      optimizer=optim.default_config(),
      eval=dict(iwae_k=0, iwae_chunk=500),
  ))


def per_sample_normal(key: PRNGKey, sample_ids: jax.Array, shape: tuple[int, ...]) -> jax.Array:
  """[len(sample_ids), *shape] standard normals; sample i's come from fold_in(key, i), so they
  do not depend on which other samples are drawn alongside."""
  return jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), shape))(sample_ids)


def importance_weighted_nll(log_weights: Callable[[jax.Array], jax.Array], batch_size: int, *,
                            num_samples: int, chunk: int) -> jax.Array:
  """-log (1/k) Σ_i w_i per example over k = `num_samples` importance samples (Burda et al.
  2016), evaluated `chunk` samples at a time.

  log_weights(sample_ids [c]) -> [c, B]: log p(x, z_i) - log q(z_i|x) for each sample id.
  Drawing sample i's noise with `per_sample_normal` makes the estimate independent of the chunk
  size; the last chunk is padded and its surplus samples get weight zero (log w = -inf). The
  log-sum-exp is streamed across chunks, so memory is O(chunk · B), not O(k · B).
  """
  chunk = min(chunk, num_samples)
  num_chunks = -(-num_samples // chunk)

  def chunk_logsumexp(acc, index):
    sample_ids = index * chunk + jnp.arange(chunk)
    log_w = jnp.where((sample_ids < num_samples)[:, None], log_weights(sample_ids), -jnp.inf)
    return jnp.logaddexp(acc, jax.nn.logsumexp(log_w, axis=0)), None

  acc, _ = jax.lax.scan(chunk_logsumexp, jnp.full((batch_size,), -jnp.inf),
                        jnp.arange(num_chunks))
  return math.log(num_samples) - acc


def beta_elbo_loss(terms: tuple[jax.Array, jax.Array], beta: float) -> tuple[jax.Array, Metrics]:
  """The β-VAE training loss from per-example (recon NLL, KL) and its logged parts."""
  recon, kl = jnp.mean(terms[0]), jnp.mean(terms[1])
  return recon + beta * kl, dict(recon=recon, kl=kl)


def make(config: ml_collections.ConfigDict, spec: DataSpec) -> Method:
  likelihood = losses.get_likelihood(config.loss)
  losses.check_preprocess(config.loss, likelihood, config.data.preprocess)
  model = vae_models.make(config.model, ModelSpec.of(spec, likelihood.params_per_channel))
  tx = optim.make(config.optimizer)
  latent_dim = config.model.latent_dim
  beta, train_k = config.beta, config.train_k
  if train_k < 1 or (train_k > 1 and beta != 1.0):
    raise ValueError(f"train_k must be >= 1, and beta 1 when train_k > 1 (the IWAE bound has no "
                     f"KL term to weigh), got train_k={train_k}, beta={beta}")
  iwae_k, iwae_chunk = config.eval.iwae_k, config.eval.iwae_chunk
  if iwae_k > 0 and iwae_chunk < 1:
    raise ValueError(f"eval.iwae_chunk must be >= 1 when eval.iwae_k > 0, got {iwae_chunk}")
  mask = real_pixels(spec)  # the likelihood leaves out the padding data.pad_to added
  nats_to_bpd = 1.0 / (float(jnp.sum(mask)) * spec.image_shape[-1] * math.log(2.0))

  def decode(params, z):
    return model.apply({"params": params}, z, method="decode")

  def elbo_terms(params, x, key):
    """Per-example (recon NLL, KL) with one reparameterized sample of q(z|x)."""
    eps = jax.random.normal(key, (x.shape[0], latent_dim))
    out, mean, logvar = model.apply({"params": params}, x, eps)
    return likelihood.nll(out, x, mask=mask), losses.gaussian_kl(mean, logvar)

  def init(key: PRNGKey, batch: Batch) -> TrainState:
    x = batch["image"]
    params = model.init(key, x, jnp.zeros((x.shape[0], latent_dim)))["params"]
    return TrainState(step=jnp.zeros((), jnp.int32), params={"vae": params},
                      opt_state={"vae": tx.init(params)}, collections={})

  def iwae_nll(params, x, key, num_samples, chunk):
    """-log (1/k) Σ_i p(x, z_i) / q(z_i|x) for k = `num_samples`, `chunk` samples decoded at a
    time."""
    mean, logvar = model.apply({"params": params}, x, method="encode")
    batch_size = x.shape[0]
    chunk = min(chunk, num_samples)  # as importance_weighted_nll clips it
    x_rep = jnp.broadcast_to(x, (chunk, *x.shape)).reshape(chunk * batch_size, *x.shape[1:])
    mean_rep = jnp.broadcast_to(mean, (chunk, *mean.shape))
    logvar_rep = jnp.broadcast_to(logvar, (chunk, *logvar.shape))

    def log_weights(sample_ids):
      eps = per_sample_normal(key, sample_ids, mean.shape)
      z = mean_rep + jnp.exp(0.5 * logvar_rep) * eps  # [chunk, B, latent]
      out = decode(params, z.reshape(chunk * batch_size, latent_dim))
      log_px_z = -likelihood.nll(out, x_rep, mask=mask).reshape(chunk, batch_size)
      log_pz = losses.gaussian_log_prob(z, jnp.zeros_like(z), jnp.zeros_like(z))
      log_qz = losses.gaussian_log_prob(z, mean_rep, logvar_rep)
      return log_px_z + log_pz - log_qz

    return importance_weighted_nll(log_weights, batch_size, num_samples=num_samples,
                                   chunk=chunk)

  def train_loss(params, x, key):
    if train_k == 1:
      return beta_elbo_loss(elbo_terms(params, x, key), beta)
    return jnp.mean(iwae_nll(params, x, key, train_k, train_k)), {}

  def train_step(state: TrainState, batch: Batch, key: PRNGKey) -> tuple[TrainState, Metrics]:
    # `key` has a single use: the latents.
    return optimizer_step(state, tx, "vae", lambda p: train_loss(p, batch["image"], key))

  def eval_step(state: TrainState, batch: Batch, key: PRNGKey) -> Metrics:
    params, x = state.params["vae"], batch["image"]
    elbo_key, iwae_key = jax.random.split(key)
    recon, kl = elbo_terms(params, x, elbo_key)
    neg_elbo = recon + kl
    metrics = dict(neg_elbo=neg_elbo, recon=recon, kl=kl, neg_elbo_bpd=neg_elbo * nats_to_bpd)
    if iwae_k > 0:
      nll = iwae_nll(params, x, iwae_key, iwae_k, iwae_chunk)
      metrics.update(iwae_nll=nll, iwae_bpd=nll * nats_to_bpd)
    return metrics

  def sample(state: TrainState, key: PRNGKey, num: int, labels=None) -> jax.Array:
    """Decodes z ~ N(0, I) and returns the likelihood's mean image; `labels` is unused."""
    del labels
    z = jax.random.normal(key, (num, latent_dim))
    return likelihood.mean(decode(state.params["vae"], z)).astype(jnp.float32)

  def reconstruct(state: TrainState, batch: Batch, key: PRNGKey) -> jax.Array:
    """Mean image of the decoder at one sample of q(z|x)."""
    x = batch["image"]
    eps = jax.random.normal(key, (x.shape[0], latent_dim))
    out, _, _ = model.apply({"params": state.params["vae"]}, x, eps)
    return likelihood.mean(out).astype(jnp.float32)

  def interpolate(state: TrainState, key: PRNGKey, num_rows: int, steps: int,
                  labels=None) -> jax.Array:
    """Decoded slerp walks between prior draws (`latent.interpolation_grid`); `labels` is
    unused."""
    del labels
    z = latent.interpolation_grid(key, num_rows, steps, latent_dim)
    return likelihood.mean(decode(state.params["vae"], z)).astype(jnp.float32)

  return Method(init=init, train_step=train_step, eval_step=eval_step, sample=sample,
                reconstruct=reconstruct, interpolate=interpolate)
