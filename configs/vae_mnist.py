"""VAE on binarized MNIST.

Default protocol: TFDS `binarized_mnist` (Larochelle's fixed binarization; 50k train, 10k
test), needs TFDS data prepared in --config.data.data_dir:
  python train.py --config configs/vae_mnist.py --workdir runs/vae_mnist
It is the classic jaxgen VAE (784-256-256-z50 ReLU, batch 100, Adam 1e-3, 3,280 epochs),
not the protocol of the figures below, whose numbers it does not reproduce.

Figures (Burda et al. 2016, "Importance Weighted Autoencoders", table 1, MNIST, 1 stochastic
layer): 86.76 nats for the VAE trained on the ELBO (k = 1), 84.78 nats for the IWAE trained on
its k = 50 bound; both the test NLL estimated by the k = 5000 importance-weighted bound. Both
figures come from one protocol, the paper's section 5: MNIST's standard 60,000 train / 10,000
test split, dynamically binarized (a fresh Bernoulli draw of every pixel each time it is
used); 784-200-200-z50 encoder and 50-200-200-784 Bernoulli decoder, tanh units, Glorot &
Bengio's uniform initialization; Adam with β1 = 0.9, β2 = 0.999, ε = 1e-4, batch 20; 3^i
epochs at learning rate 0.001·10^(-i/7) for i = 0..7 (3,280 epochs, 9.84M steps). The two
variants differ only in the training bound (train_k):
  python train.py --config configs/vae_mnist.py:burda --workdir runs/vae_mnist_burda
  python train.py --config configs/vae_mnist.py:burda_iwae --workdir runs/vae_mnist_burda_iwae
Each evaluates the test split with eval.iwae_k = 5000 (eval/iwae_nll is the figure), here
every 40 epochs and at the end. From the authors' code (github.com/yburda/iwae), not the
paper, and not reproduced: Adam with β1 = 0.99 and second moments started at 1, learning
rates rounded to two significant digits, the decoder's output bias started at the logit of
the training pixel means, 400 training images held out for validation, unshuffled batches.

Offline variant `:mnist`: the classic recipe above (the same model, batch 100, Adam 1e-3 at a
constant rate, 3,280 epochs) on the real MNIST, 60,000 train / 10,000 test images
(../shared/data/mnist), dynamically binarized. 3,280 epochs of 600 steps are 1.97M steps,
about 4 hours of a 2-core CPU at the ~14,000 images/s the MLP VAE trains at here (an estimate,
not a measured run); shorten it with --config.num_steps. Its numbers are comparable neither
with the paper's (another model and recipe) nor with the default's (fixed binarization, 50k):
  python train.py --config configs/vae_mnist.py:mnist --workdir runs/vae_mnist_mnist

`:tiny` runs in seconds on slices of the real MNIST splits (train[:1024], test[:256]; tests use
it).
"""

from configs import common
from jaxgen import config as config_lib
from jaxgen.methods import vae

MNIST_TRAIN = 60_000


def burda(c, train_k: int):
  """Burda et al. 2016's MNIST protocol (module docstring), training on the k = `train_k`
  bound."""
  c.data.name = "mnist"
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.model.update(hidden=(200, 200), latent_dim=50, activation="tanh",
                 kernel_init="glorot_uniform")
  c.train_k = train_k
  c.batch_size = 20
  steps_per_epoch = MNIST_TRAIN // c.batch_size
  # Stage i: 3^i epochs at 0.001·10^(-i/7); stage i > 0 starts after Σ_{j<i} 3^j epochs.
  c.optimizer.update(b1=0.9, b2=0.999, eps=1e-4, lr=1e-3)
  c.optimizer.lr_boundaries = tuple(steps_per_epoch * (3 ** i - 1) // 2 for i in range(1, 8))
  c.optimizer.lr_values = tuple(1e-3 * 10 ** (-i / 7) for i in range(1, 8))
  c.num_steps = steps_per_epoch * (3 ** 8 - 1) // 2  # 3,280 epochs
  c.log_every = 3_000
  c.eval_every = c.sample_every = c.checkpoint_every = 40 * steps_per_epoch
  c.eval.iwae_k = 5000
  c.eval.iwae_chunk = 100


def get_config(arg: str = ""):
  arg = common.parse_arg(arg, "vae_mnist", mnist=False, tiny=False,
                         protocol=(None, "burda", "burda_iwae"))
  c = config_lib.base()
  c.update(vae.default_method_config("mlp"))
  c.data.name = "binarized_mnist"
  c.data.preprocess = "binarize"  # a no-op draw on already binary data
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.batch_size = 100
  # Burda et al.'s 3,280 epochs at a constant learning rate; 500 steps per epoch at batch 100.
  c.num_steps = 3_280 * 500
  c.log_every = 500
  c.eval_every = c.sample_every = c.checkpoint_every = 10_000
  if arg.mnist or arg.tiny:
    c.data.name = "mnist"
    c.num_steps = 3_280 * (MNIST_TRAIN // c.batch_size)  # 600 steps per epoch
    c.eval_every = c.sample_every = c.checkpoint_every = 10 * (MNIST_TRAIN // c.batch_size)
  if arg.protocol:
    burda(c, train_k=50 if arg.protocol == "burda_iwae" else 1)
  if arg.tiny:  # shrinks whatever protocol the other words chose
    common.tiny(c, train="train[:1024]", eval="test[:256]")
    c.model.update(hidden=(32, 32), latent_dim=4)
    c.eval.update(iwae_k=8, iwae_chunk=4)
  return c
