"""WGAN-GP (Gulrajani et al. 2017) on Fashion-MNIST with the DCGAN architecture.

  python train.py --config configs/wgan_gp_fashion_mnist.py --workdir runs/wgan_gp_fashion_mnist

Wasserstein loss with the gradient penalty (λ = 10), 5 critic steps per generator step, Adam
1e-4 with (β1, β2) = (0.5, 0.9) as in the authors' released code (gan_mnist.py; the paper's
Algorithm 1 lists β1 = 0). Each critic step sees its own 64 real images, so batch_size is
5 × 64 = 320 (see jaxgen/methods/gan.py for the update order); the generator step uses 64 latents.
The critic has spectral norm instead of batch norm: the penalty needs per-example input
gradients, which batch norm mixes across the batch, and jaxgen.models.gan offers no
normalization-free DCGAN critic (the paper's MNIST critic has none; layer norm for the others).
Figure to reach: Lucic et al. (2018) report best FIDs on Fashion-MNIST of 21.5 for WGAN and 24.5
for WGAN-GP (their architecture and protocol, best of a large search).

`:tiny` runs in seconds on CPU (tests use it).
"""

from jaxgen import config as config_lib
from jaxgen.methods import gan


def get_config(arg: str = ""):
  c = gan.dcgan_config("fashion_mnist", pad_to=32)
  c.model.latent_dim = 128
  c.model.spectral_norm = True
  c.loss = "wgan_gp"
  c.gan.n_critic = 5
  c.gan.gp_weight = 10.0
  c.optimizer.update(lr=1e-4, b1=0.5, b2=0.9)
  c.d_optimizer.update(lr=1e-4, b1=0.5, b2=0.9)
  c.batch_size = 5 * 64
  c.num_steps = 20_000  # generator steps (100k critic steps), about 107 epochs
  for variant in filter(None, arg.split(",")):
    if variant == "tiny":
      c.data.train_split = "train[:1024]"
      c.data.eval_split = "test[:256]"
      config_lib.tiny_schedule(c, steps=4)
      c.batch_size = 5 * 16
      gan.tiny_networks(c)
    else:
      raise ValueError(f"unknown variant {variant!r} of wgan_gp_fashion_mnist; expected tiny")
  return c
