"""Class-conditional DCGAN on Fashion-MNIST with a projection discriminator.

  python train.py --config configs/cgan_fashion_mnist.py --workdir runs/cgan_fashion_mnist

G concatenates a learned label embedding with z; D is the projection discriminator of Miyato &
Koyama (2018), logit = ψ(φ(x)) + <embed(y), φ(x)>, with spectral norm (no batch norm) and the
hinge loss as in that paper. Otherwise the DCGAN reference (configs/dcgan_fashion_mnist.py):
Adam 2e-4 with β1 = 0.5, batch 64, 32x32 in [-1, 1], 5 epochs. Sample grids cycle the labels
0..9; `python -m jaxgen.sample --workdir DIR --per-class 10` draws a row per class.
No published figure follows this protocol; class-conditional samples should be recognizably of
their class (the domain classifier's class accuracy measures it).

`:tiny` runs in seconds on CPU (tests use it).
"""

from configs import common


def get_config(arg: str = ""):
  arg = common.parse_arg(arg, "cgan_fashion_mnist", tiny=False)
  c = common.dcgan("fashion_mnist", pad_to=32)
  c.model.conditional = True
  c.model.spectral_norm = True
  c.model.d_norm = "none"
  c.loss = "hinge"
  c.num_steps = 5 * (60_000 // 64)  # 5 epochs
  c.num_samples = 100  # 10 per class
  if arg.tiny:
    common.tiny(c, train="train[:1024]", eval="test[:256]", steps=4)
    common.tiny_gan(c)
  return c
