"""DCGAN on CIFAR-10 (32x32 RGB).

  python train.py --config configs/dcgan_cifar10.py --workdir runs/dcgan_cifar10 \
      --config.data.data_dir ~/tensorflow_datasets

Needs TFDS `cifar10` prepared in data_dir (or --config.data.download=True where there is
internet). The DCGAN recipe of configs/dcgan_fashion_mnist.py on 3 channels: base width 64,
non-saturating loss, Adam 2e-4 with β1 = 0.5, batch 64, 100-dimensional z, 50 epochs.
No published figure follows this protocol: Lucic et al. (2018) report a best NS GAN FID of
58.5 on CIFAR-10 with their own architecture, FID protocol and hyperparameter search, not
comparable with this config's.

`:tiny` runs in seconds (tests point data_dir at a small prepared TFDS cifar10).
"""

from configs import common


def get_config(arg: str = ""):
  arg = common.parse_arg(arg, "dcgan_cifar10", tiny=False)
  c = common.dcgan("cifar10")
  c.num_steps = 50 * (50_000 // 64)  # 50 epochs
  c.eval_every = c.sample_every = c.checkpoint_every = 5_000
  if arg.tiny:
    common.tiny(c, train="train[:256]", eval="test[:64]", steps=4)
    c.batch_size = c.eval.batch_size = 32
    c.num_samples = 8
    common.tiny_gan(c)
  return c
