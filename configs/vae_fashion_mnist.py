"""VAE on dynamically binarized Fashion-MNIST: the README's default model.

  python train.py --config configs/vae_fashion_mnist.py --workdir runs/vae_fashion_mnist
  python -m jaxgen.evaluate --workdir runs/vae_fashion_mnist --iwae_k 5000

The classic MLP VAE (784-256-256-z50, Bernoulli decoder), Adam 1e-3, batch 128, 40 epochs (about 3 minutes on a 2-core CPU).
Fashion-MNIST comes from the IDX files of Debian's `dataset-fashion-mnist` when TFDS has not
prepared it. Figures reached on the 2-core CI machine are in the README (benchmarks/vae.py).

Variants: `:tiny` (seconds, for tests), `:beta4` (β-VAE with β=4), `:conv` (conv VAE, 28->32).
"""

from configs import common
from jaxgen import config as config_lib
from jaxgen.methods import vae


def get_config(arg: str = ""):
  arg = common.parse_arg(arg, "vae_fashion_mnist", tiny=False, beta4=False, conv=False)
  c = config_lib.base()
  c.update(vae.default_method_config("conv" if arg.conv else "mlp"))
  c.data.name = "fashion_mnist"
  c.data.preprocess = "binarize"
  c.batch_size = 128
  c.num_steps = 40 * (60_000 // 128)  # 40 epochs
  c.log_every = 200
  c.eval_every = c.sample_every = c.checkpoint_every = 2_000
  c.eval.iwae_k = 0  # IWAE-5000 is for the final figure: jaxgen.evaluate --iwae_k 5000
  if arg.beta4:
    c.beta = 4.0
  if arg.conv:
    c.data.pad_to = 32
  if arg.tiny:
    common.tiny(c, train="train[:2048]", eval="test[:256]")
    c.model.latent_dim = 4
    if not arg.conv:
      c.model.hidden = (32, 32)
    c.eval.update(iwae_k=8, iwae_chunk=4)
  return c
