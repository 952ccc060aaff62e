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

from jaxgen import config as config_lib
from jaxgen.methods import gan


def get_config(arg: str = ""):
  c = gan.dcgan_config("fashion_mnist", pad_to=32)
  c.num_steps = 5 * (60_000 // 64)  # 5 epochs
  for variant in filter(None, arg.split(",")):
    if variant == "tiny":
      c.data.train_split = "train[:1024]"
      c.data.eval_split = "test[:256]"
      config_lib.tiny_schedule(c, steps=4)
      gan.tiny_networks(c)
    elif variant == "ema":
      c.gan.ema_decay = 0.999
    else:
      raise ValueError(f"unknown variant {variant!r} of dcgan_fashion_mnist; "
                       "expected tiny or ema (comma-separated)")
  return c
