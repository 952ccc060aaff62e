"""DCGAN on CelebA faces at 64x64 (Radford et al. 2016's setting).

  python train.py --config configs/dcgan_celeba64.py --workdir runs/dcgan_celeba64 \
      --config.data.data_dir ~/tensorflow_datasets

Needs TFDS `celeb_a` prepared in data_dir (or --config.data.download=True where there is
internet); images are center-cropped to 108x108 and resized to 64x64 (jaxgen/data/sources.py).
DCGAN at 64x64 (G: 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64 -> 64x64x3), non-saturating
loss, Adam 2e-4 with β1 = 0.5, batch 128 as in the DCGAN paper, 20 epochs of the 162,770
training faces. No published figure follows this protocol: Lucic et al. (2018, "Are GANs
Created Equal?", table 2) report the NS GAN's best FID on CelebA 64x64 with their own
architecture, FID protocol and hyperparameter search, not comparable with this config's.

`:tiny` runs in seconds (tests point data_dir at a small prepared TFDS celeb_a).
"""

from configs import common


def get_config(arg: str = ""):
  arg = common.parse_arg(arg, "dcgan_celeba64", tiny=False)
  c = common.dcgan("celeb_a")
  c.data.eval_split = "validation"
  c.batch_size = 128
  c.num_steps = 20 * (162_770 // 128)  # 20 epochs
  c.eval_every = c.sample_every = c.checkpoint_every = 5_000
  c.evals.likelihood.num = 10_000  # D scores on part of the 19,867 validation images
  if arg.tiny:
    common.tiny(c, train="train[:64]", eval="validation[:32]", steps=4)
    c.batch_size = c.eval.batch_size = 32
    c.evals.likelihood.num = -1
    c.num_samples = 8
    common.tiny_gan(c)
  return c
