"""The classic MLP GAN (Goodfellow et al. 2014) on MNIST.

  python train.py --config configs/mlp_gan_mnist.py --workdir runs/mlp_gan_mnist

Data: the real MNIST, trained on the 60,000-image train split and evaluated on the 10,000-image
test split (offline from ../shared/data/mnist when TFDS has not prepared it; see
jaxgen/data/sources.py); pixels scaled to [0, 1] with a sigmoid generator output. G: z (100) ->
256 -> 512 -> 1024 -> 784, D: 784 -> 512 -> 256 -> 1, ReLU; non-saturating loss, Adam 2e-4 with
β1 = 0.5 for both players, batch 64, 50 epochs (46,850 steps, 3M images): about 7 minutes at
the 7,100 images/s of the bare step on an idle 2-core CPU (benchmarks/speed.py); through the
trainer, over 1,000 steps while other jobs loaded the CPU 4×, it ran at ~750 images/s (at that
pace, over an hour).
Figure for orientation: Lucic et al. (2018) report a best FID of 6.8 (NS GAN) and 6.7 (WGAN) on
MNIST, on the same train split, but with a convolutional (InfoGAN-style) architecture and the
best of a large hyperparameter search; an MLP GAN is not expected to get there, and only an
Inception FID computed by their protocol is comparable with theirs.

`:tiny` runs in seconds on CPU on slices of the splits (train[:1024], test[:256]; tests use it).
"""

from configs import common
from jaxgen import config as config_lib
from jaxgen.methods import gan


def get_config(arg: str = ""):
  arg = common.parse_arg(arg, "mlp_gan_mnist", tiny=False)
  c = config_lib.base()
  c.update(gan.default_method_config("mlp"))
  c.data.name = "mnist"
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.data.preprocess = "scale01"
  c.model.output = "sigmoid"
  c.model.latent_dim = 100
  c.model.hidden_g = (256, 512, 1024)
  c.model.hidden_d = (512, 256)
  c.loss = "non_saturating"
  c.optimizer.update(lr=2e-4, b1=0.5)
  c.d_optimizer.update(lr=2e-4, b1=0.5)
  c.batch_size = 64
  c.num_steps = 50 * (60_000 // 64)  # 50 epochs
  c.log_every = 200
  c.eval_every = c.sample_every = c.checkpoint_every = 2_500
  if arg.tiny:
    common.tiny(c, train="train[:1024]", eval="test[:256]")
    c.model.update(latent_dim=16, hidden_g=(32,), hidden_d=(32,))
  return c
