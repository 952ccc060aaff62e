"""Convolutional VAE on CIFAR-10 (8-bit RGB) with a discretized logistic likelihood.

  python train.py --config configs/conv_vae_cifar10.py --workdir runs/conv_vae_cifar10 \
      --config.data.data_dir ~/tensorflow_datasets

Needs TFDS `cifar10` prepared in data_dir (or --config.data.download=True where there is
internet). Reports bits/dim; a plain single-latent conv VAE lands far from the hierarchical
models' ~3.1 bits/dim (Kingma et al. 2016 IAF: 3.11), expect ~4.5-5.

`:tiny` runs in seconds (tests point data_dir at a small prepared TFDS cifar10).
"""

from configs import common
from jaxgen import config as config_lib
from jaxgen.methods import vae


def get_config(arg: str = ""):
  arg = common.parse_arg(arg, "conv_vae_cifar10", tiny=False)
  c = config_lib.base()
  c.update(vae.default_method_config("conv"))
  c.data.name = "cifar10"
  c.data.preprocess = "scale11"
  c.model.latent_dim = 128
  c.loss = "discretized_logistic"
  c.batch_size = 64
  c.num_steps = 100 * (50_000 // 64)
  c.optimizer.lr = 3e-4
  c.log_every = 200
  c.eval_every = c.sample_every = c.checkpoint_every = 5_000
  if arg.tiny:
    common.tiny(c, train="train[:256]", eval="test[:64]", steps=4)
    c.model.update(latent_dim=4, features=(8, 16, 16))
    c.batch_size = c.eval.batch_size = 32
    c.num_samples = 8
  return c
