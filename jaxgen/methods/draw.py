"""DRAW (Gregor et al. 2015) as a `Method`: the VAE recipe over a sequence of latents z_{1:T}.

Loss (the paper's L^x + L^z, with β as in jaxgen.methods.vae): the Bernoulli NLL of x under the
final canvas plus β · Σ_t KL(q(z_t|h^enc_t) || N(0, I)). Evaluation always uses β = 1.

Config keys read (all declared in `default_method_config`):
  model.name: "attention" or "no_attention" (jaxgen.models.draw.MODELS)
  model.steps (T), model.hidden (LSTM units, encoder and decoder), model.latent_dim (z_t),
  model.read_n, model.write_n (N of the read and write glimpses; attention only)
  beta: weight of the KL term in the training loss
  optimizer: see jaxgen.optim.default_config (DRAW trains with gradient clipping)
  eval.iwae_k: importance samples for the IWAE bound (0: skip); eval.iwae_chunk: samples run
        at once through all T steps, which bounds memory without changing the result

Data must be binary ({0, 1}, `data.preprocess = "binarize"`; `make` refuses other modes): the
likelihood is Bernoulli. It and bits/dim cover the data's pixels only, not the padding of
data.pad_to (DataSpec.padding).
"""

import math

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen import losses
from jaxgen import optim
from jaxgen.methods import latent, vae
from jaxgen.methods.base import Batch, Method, Metrics, PRNGKey, TrainState
from jaxgen.methods.base import optimizer_step, real_pixels
from jaxgen.methods.vae import importance_weighted_nll, per_sample_normal
from jaxgen.models import draw as draw_models
from jaxgen.types import DataSpec, ModelSpec


def default_method_config(model: str = "attention") -> ml_collections.ConfigDict:
  """Every key `make` reads, with defaults: the paper's MNIST model (`model`: a key of
  jaxgen.models.draw.MODELS, with its own keys only)."""
  return ml_collections.ConfigDict(dict(
      method="draw",
      model=draw_models.default_config(model),
      beta=1.0,
      optimizer=optim.default_config(grad_clip_norm=5.0),
      # A chunk runs chunk · eval.batch_size sequences through the T steps at once.
      eval=dict(iwae_k=0, iwae_chunk=16),
  ))


def make(config: ml_collections.ConfigDict, spec: DataSpec) -> Method:
  losses.check_preprocess("bernoulli", losses.BERNOULLI, config.data.preprocess)
  channels = spec.image_shape[-1]
  model = draw_models.make(config.model, ModelSpec.of(spec))
  tx = optim.make(config.optimizer)
  steps, latent_dim = config.model.steps, config.model.latent_dim
  beta = config.beta
  iwae_k, iwae_chunk = config.eval.iwae_k, config.eval.iwae_chunk
  if iwae_k > 0 and iwae_chunk < 1:
    raise ValueError(f"eval.iwae_chunk must be >= 1 when eval.iwae_k > 0, got {iwae_chunk}")
  mask = real_pixels(spec)  # the likelihood leaves out the padding data.pad_to added
  nats_to_bpd = 1.0 / (float(jnp.sum(mask)) * channels * math.log(2.0))

  def elbo_terms(params, x, key):
    """Per-example (recon NLL, Σ_t KL) with one reparameterized sequence z_{1:T}."""
    eps = jax.random.normal(key, (steps, x.shape[0], latent_dim))
    logits, mean, logvar = model.apply({"params": params}, x, eps)
    return (losses.bernoulli_nll(logits, x, mask=mask),
            jnp.sum(losses.gaussian_kl(mean, logvar), axis=0))

  def init(key: PRNGKey, batch: Batch) -> TrainState:
    x = batch["image"]
    params = model.init(key, x, jnp.zeros((steps, x.shape[0], latent_dim)))["params"]
    return TrainState(step=jnp.zeros((), jnp.int32), params={"draw": params},
                      opt_state={"draw": tx.init(params)}, collections={})

  def train_step(state: TrainState, batch: Batch, key: PRNGKey) -> tuple[TrainState, Metrics]:
    # `key` has a single use: the latents.
    return optimizer_step(state, tx, "draw", lambda p: vae.beta_elbo_loss(
        elbo_terms(p, batch["image"], key), beta))

  def iwae_nll(params, x, key):
    """-log (1/k) Σ_i p(x, z^i_{1:T}) / q(z^i_{1:T}|x): each importance sample reruns the whole
    sequence (q(z_t|·) depends on the earlier z), with log w = log p(x|z_{1:T})
    + Σ_t [log p(z_t) - log q(z_t|z_{<t}, x)]."""
    batch_size = x.shape[0]

    def log_weights(sample_ids):
      chunk = sample_ids.shape[0]
      x_rep = jnp.broadcast_to(x, (chunk, *x.shape)).reshape(chunk * batch_size, *x.shape[1:])
      eps = per_sample_normal(key, sample_ids, (steps, batch_size, latent_dim))
      eps = jnp.swapaxes(eps, 0, 1).reshape(steps, chunk * batch_size, latent_dim)
      logits, mean, logvar = model.apply({"params": params}, x_rep, eps)
      z = mean + jnp.exp(0.5 * logvar) * eps  # [T, chunk · B, latent]
      log_pz = losses.gaussian_log_prob(z, jnp.zeros_like(z), jnp.zeros_like(z))
      log_qz = losses.gaussian_log_prob(z, mean, logvar)
      log_w = -losses.bernoulli_nll(logits, x_rep, mask=mask) + jnp.sum(log_pz - log_qz, 0)
      return log_w.reshape(chunk, batch_size)

    return importance_weighted_nll(log_weights, batch_size, num_samples=iwae_k,
                                   chunk=iwae_chunk)

  def eval_step(state: TrainState, batch: Batch, key: PRNGKey) -> Metrics:
    params, x = state.params["draw"], batch["image"]
    elbo_key, iwae_key = jax.random.split(key)
    recon, kl = elbo_terms(params, x, elbo_key)
    neg_elbo = recon + kl
    metrics = dict(neg_elbo=neg_elbo, recon=recon, kl=kl, neg_elbo_bpd=neg_elbo * nats_to_bpd)
    if iwae_k > 0:
      nll = iwae_nll(params, x, iwae_key)
      metrics.update(iwae_nll=nll, iwae_bpd=nll * nats_to_bpd)
    return metrics

  def generate(state: TrainState, z: jax.Array) -> jax.Array:
    """z [T, N, latent] -> every step's canvas as probabilities [T, N, H, W, C]."""
    canvases = model.apply({"params": state.params["draw"]}, z, method="generate")
    return jax.nn.sigmoid(canvases).astype(jnp.float32)

  def sample_sequence(state: TrainState, key: PRNGKey, num: int) -> jax.Array:
    """σ(c_t) for t = 1..T of `num` generations from z_t ~ N(0, I): [T, num, H, W, C]."""
    return generate(state, jax.random.normal(key, (steps, num, latent_dim)))

  def sample(state: TrainState, key: PRNGKey, num: int, labels=None) -> jax.Array:
    """The final canvases' Bernoulli means: `sample_sequence(state, key, num)[-1]`; `labels` is
    unused."""
    del labels
    return sample_sequence(state, key, num)[-1]

  def reconstruct(state: TrainState, batch: Batch, key: PRNGKey) -> jax.Array:
    """Bernoulli mean of the final canvas at one sample of q(z_{1:T}|x)."""
    x = batch["image"]
    eps = jax.random.normal(key, (steps, x.shape[0], latent_dim))
    logits, _, _ = model.apply({"params": state.params["draw"]}, x, eps)
    return jax.nn.sigmoid(logits).astype(jnp.float32)

  def interpolate(state: TrainState, key: PRNGKey, num_rows: int, steps_per_row: int,
                  labels=None) -> jax.Array:
    """Slerp walks between prior draws of the whole sequence z_{1:T}, one T · latent-dim vector
    (its prior is N(0, I) too), decoded by the generative path; `labels` is unused."""
    del labels
    z = latent.interpolation_grid(key, num_rows, steps_per_row, steps * latent_dim)
    z = jnp.swapaxes(z.reshape(num_rows * steps_per_row, steps, latent_dim), 0, 1)
    return generate(state, z)[-1]

  return Method(init=init, train_step=train_step, eval_step=eval_step, sample=sample,
                reconstruct=reconstruct, interpolate=interpolate,
                sample_sequence=sample_sequence)
