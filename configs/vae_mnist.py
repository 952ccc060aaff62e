"""VAE on binarized MNIST.

Paper protocol (default): TFDS `binarized_mnist` (Larochelle's fixed binarization; 50k train,
10k test), needs TFDS data prepared in --config.data.data_dir:
  python train.py --config configs/vae_mnist.py --workdir runs/vae_mnist
Figures to compare with (Burda et al. 2016, "Importance Weighted Autoencoders", 1 stochastic
layer, k=1 VAE / k=50 IWAE training): 86.76 nats VAE and 84.78 nats IWAE (k=50 training),
test NLL estimated with k=5000.

Offline variant `:heldout`, the MNIST-test held-out protocol that runs here: the real MNIST
test split (../shared/data/mnist), dynamically binarized, trained on test[:8000] and
evaluated on test[8000:]. Its numbers are not comparable with the paper's.
  python train.py --config configs/vae_mnist.py:heldout --workdir runs/vae_mnist_heldout

`:tiny` runs in seconds on the held-out protocol (tests use it).
"""

from jaxgen import config as config_lib
from jaxgen.methods import vae


def get_config(arg: str = ""):
  c = config_lib.base()
  c.update(vae.default_method_config())
  c.data.name = "binarized_mnist"
  c.data.preprocess = "binarize"  # a no-op draw on already binary data
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.batch_size = 100
  # Burda et al. train for sum_{i<8} 3^i = 3,280 epochs (with a stepwise decaying learning
  # rate, not reproduced here); 500 steps per epoch at batch 100.
  c.num_steps = 3_280 * 500
  c.log_every = 500
  c.eval_every = c.sample_every = c.checkpoint_every = 10_000
  for variant in filter(None, arg.split(",")):
    if variant in ("heldout", "tiny"):
      c.data.name = "mnist"
      c.data.train_split = "test[:8000]"
      c.data.eval_split = "test[8000:]"
      c.num_steps = 100 * (8000 // 100)
      c.eval_every = c.sample_every = c.checkpoint_every = 2_000
    if variant == "tiny":
      c.data.train_split = "test[:1024]"
      c.data.eval_split = "test[8000:8256]"
      config_lib.tiny_schedule(c)
      c.model.hidden = (32, 32)
      c.model.latent_dim = 4
      c.eval.iwae_k = 8
      c.eval.iwae_chunk = 4
    elif variant != "heldout":
      raise ValueError(f"unknown variant {variant!r} of vae_mnist; expected heldout or tiny")
  return c
