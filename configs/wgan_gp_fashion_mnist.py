"""WGAN-GP (Gulrajani et al. 2017) on Fashion-MNIST with the critic of the authors' MNIST code.

  python train.py --config configs/wgan_gp_fashion_mnist.py --workdir runs/wgan_gp_fashion_mnist

The protocol of their gan_mnist.py (igul222/improved_wgan_training, MODE = 'wgan-gp'):
Wasserstein loss with the gradient penalty (λ = 10), 5 critic iterations per generator
iteration, each on its own 50 real images (so batch_size = 5 × 50; jaxgen/methods/gan.py has the
update order), 50 latents for the generator step, z ~ N(0, I) of 128 dimensions, Adam 1e-4 with
(β1, β2) = (0.5, 0.9) for both players (the paper's Algorithm 1 lists β1 = 0), 200,000 generator
iterations (about 830 epochs). Their critic: 5x5 stride-2 convolutions of 64, 128 and 256
channels, LeakyReLU 0.2, no normalization (batch norm would mix the examples whose input
gradients the penalty takes; their other critics use layer norm, model.d_norm = "layer"), and a
linear output on the 4x4x256 features.
Differences from their code: 28x28 images padded with black to 32x32 in [-1, 1] (theirs: 28x28 in
[0, 1]), so the critic's maps are 16, 8, 4 (theirs 14, 7, 4); the DCGAN generator (batch norm,
4x4 transposed convolutions, tanh), where theirs has no batch norm in this mode, 5x5 transposed
convolutions and a sigmoid; DCGAN's N(0, 0.02) initialization rather than tflib's uniform one.

Figure to reach: none published in this protocol (Gulrajani et al. show MNIST samples, no
score). Lucic et al. (2018) report best FIDs on Fashion-MNIST of 21.5 for WGAN and 24.5 for
WGAN-GP with their own InfoGAN-style architecture and protocol (the best of a large
hyperparameter search; configs/lucic_gan.py follows it), so this config's FID is not
comparable with theirs.

Variants: `:tiny` (seconds on CPU, for tests); `:sn` adds spectral norm to every critic layer
(Miyato et al. 2018; this config's critic before it followed the paper's).
"""

from configs import common


def get_config(arg: str = ""):
  arg = common.parse_arg(arg, "wgan_gp_fashion_mnist", tiny=False, sn=False)
  c = common.dcgan("fashion_mnist", pad_to=32)
  c.model.latent_dim = 128
  c.model.d_norm = "none"
  c.model.d_kernel_size = 5
  c.loss = "wgan_gp"
  c.gan.n_critic = 5
  c.gan.gp_weight = 10.0
  c.optimizer.update(lr=1e-4, b1=0.5, b2=0.9)
  c.d_optimizer.update(lr=1e-4, b1=0.5, b2=0.9)
  c.batch_size = 5 * 50
  c.num_steps = 200_000  # generator iterations (ITERS; a million critic iterations)
  c.eval_every = c.sample_every = c.checkpoint_every = 10_000
  if arg.sn:
    c.model.spectral_norm = True
  if arg.tiny:
    common.tiny(c, train="train[:1024]", eval="test[:256]", steps=4)
    c.batch_size = 5 * 16
    common.tiny_gan(c)
  return c
