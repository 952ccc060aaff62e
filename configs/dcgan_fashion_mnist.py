"""DCGAN on Fashion-MNIST: the reference GAN.

  python train.py --config configs/dcgan_fashion_mnist.py --workdir runs/dcgan_fashion_mnist

Radford et al. (2016) recipe: DCGAN G and D (base width 64, weights ~ N(0, 0.02); 28x28
padded with black to 32x32, data in [-1, 1], tanh output), non-saturating loss, Adam 2e-4 with
β1 = 0.5 for both players, batch 64, z ~ N(0, I) of 100 dimensions; 5 epochs by default (about
10 minutes on a 2-core CPU; the README shows its samples). Train longer with
--config.num_steps. No published figure follows this protocol: Lucic et al. (2018, "Are GANs
Created Equal?") report a best Inception FID of 26.5 for the NS GAN on Fashion-MNIST with their
InfoGAN-style architecture, their FID protocol and a large hyperparameter search
(configs/lucic_gan.py follows it); this config's FIDs are not comparable with it.

Variants: `:tiny` (seconds on CPU, for tests), `:ema` (EMA generator, weights and batch
statistics, decay 0.999, for sampling).
"""

from configs import common


def get_config(arg: str = ""):
  arg = common.parse_arg(arg, "dcgan_fashion_mnist", tiny=False, ema=False)
  c = common.dcgan("fashion_mnist", pad_to=32)
  c.num_steps = 5 * (60_000 // 64)  # 5 epochs
  if arg.ema:
    c.gan.ema_decay = 0.999
  if arg.tiny:
    common.tiny(c, train="train[:1024]", eval="test[:256]", steps=4)
    common.tiny_gan(c)
  return c
