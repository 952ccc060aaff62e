"""Lucic et al. (2018), "Are GANs Created Equal? A Large-Scale Study": their MNIST and
Fashion-MNIST GANs, in their protocol (google/compare_gan v1, the paper's code).

  python train.py --config configs/lucic_gan.py:mnist,non_saturating --workdir runs/lucic/mnist_ns
  python -m jaxgen.evaluate --workdir runs/lucic/mnist_ns --metrics fid --extractor inception \
      --num 10000

Time per run (1M real images seen): ~1.2 h on two free cores of a 2-core CPU (NS GAN ~220
images/s, WGAN-GP ~245 real images/s, from the step's CPU time), 2-4.5 h on the shared CI
machine (60-150 images/s measured through the trainer at load 6-8); the FID of 10,000 samples
about 20 minutes more.

Variants `DATASET,LOSS[,tiny]`: DATASET mnist (default) or fashion_mnist; LOSS minimax (MM GAN),
non_saturating (NS GAN, default), lsgan (LSGAN) or wgan_gp (WGAN-GP); `tiny` trains in seconds on
CPU (slices of the splits, widths / 8, z of 16; tests use it).

The paper's best FIDs (Table 2; mean ± std over re-runs of the best model of a large search,
outliers excluded), as copied by Zhang & Khoreva (PA-GAN) and Dai & Wipf (2019), which agree:

  model     MNIST        Fashion-MNIST
  MM GAN    9.8 ± 0.9    29.6 ± 1.6
  NS GAN    6.8 ± 0.5    26.5 ± 1.6
  LSGAN     7.8 ± 0.6    30.7 ± 2.2    (the paper may mark LSGAN as unstable: unconfirmed)
  WGAN-GP   20.3 ± 5.0   24.5 ± 2.1
  VAE       23.8 ± 0.6   58.7 ± 1.2    (unconfirmed: neither copy has the VAE row)

The study's protocol, as this config follows it:
- Data: the 60,000-image train split, pixels in [0, 1] (data.preprocess scale01); FID against the
  10,000-image test split with 10,000 samples.
- Networks (model.name infogan): D: 4x4 stride-2 convs of 64 and 128 channels, dense 1024, dense
  1 (logit); G: dense 1024, dense 7x7x128, 4x4 stride-2 transposed convs of 64 and 1 channels,
  sigmoid. LeakyReLU 0.2 everywhere (compare_gan's code; the original InfoGAN's G has ReLU); batch
  norm (decay 0.999, eps 1e-3) after every G layer but the last, and after D's second and third
  layers unless off; weights N(0, 0.02) (truncated at 2σ for D's convs), biases 0. Parameters:
  G 6,642,241 (BN scales and offsets included), D 6,559,169 with batch norm, 6,556,865 without.
- z: 64 dimensions, U[-1, 1] (gan.prior uniform).
- Adam with β2 = 0.999, one learning rate and β1 for both players, batch 64.
- Length: compare_gan counts discriminator updates: 15,625 of batch 64 ("20 epochs" of a nominal
  50,000 images, ~16.7 true epochs; a generator update after every n_critic-th). A jaxgen step is
  n_critic D updates (each on its own 64 real images) then one G update (on 64 latents), so
  num_steps = 15,625 / n_critic and batch_size = 64 · n_critic give the study's D and G updates:
  15,625 each for n_critic 1; 15,625 and 3,125 for WGAN-GP's 5 (compare_gan: 3,126).
  Checkpoints, samples and D's eval scores every num_steps / 4 (the study's checkpoints at 3,906,
  7,812, 11,718, 15,624 and 15,625 D updates; all five kept).
- Losses: the study's MM and NS GAN are jaxgen's minimax and non_saturating; its LSGAN squares the
  sigmoid of D's output (jaxgen loss lsgan_sigmoid, not Mao et al.'s lsgan on raw scores);
  WGAN-GP is wgan_gp with λ = 10.

Hyperparameters: the paper's figures are each the best of 100 random settings per model and data
set (lr 10^U[-5, -2], β1 U[0, 1], n_critic {1, 5}, D batch norm on or off); the best settings
themselves were not published, and the good region it reports for these data sets (its narrow
search) is lr in [1e-4, 1e-3] with β1 = 0.5. Chosen here, one setting each:
- MM GAN, NS GAN, LSGAN: lr 2e-4, β1 0.5, n_critic 1, D batch norm on: inside the narrow region,
  the author default of compare_gan's LSGAN (0.5, 2e-4, BN on) and DCGAN's Adam setting; batch
  norm on is compare_gan's default for these models.
- WGAN-GP: compare_gan's author default, Gulrajani et al.'s code's but for β2 (0.9 there): lr
  1e-4, β1 0.5, n_critic 5, λ 10, D batch norm off (the study fixed it off for WGAN-GP: batch
  norm couples the examples whose input gradients the penalty takes).

What differs from the study:
- One setting, one seed (the study: the best of 100, then 50 seeds, outliers excluded).
- Which checkpoint the study reported per seed is not in its code; jaxgen reports the last.
- compare_gan's G step reuses the D step's z (except WGAN-GP's); jaxgen draws fresh z for it.
- The penalty's norm: compare_gan sqrt(1e-4 + Σg²), jaxgen the exact norm.
- The D in compare_gan updates first, G after D updates 1, 2, 7, 12, ... (n_critic 5); jaxgen's
  G after D updates 5, 10, ... Its data pipeline shuffles with a 10,000-image buffer; jaxgen
  shuffles whole epochs.
- G's transposed convolutions are TensorFlow's conv2d_transpose with the kernel flipped (the same
  functions and the same initial distribution); D's convolutions are computed as matrix products
  of patches (layers.PatchConv: the same numbers as a convolution, and WGAN-GP's penalty
  gradients ~2x faster per step on CPU).
- FID: the same Inception network (the 2015-12-05 graph, pool_3), but pytorch-fid's preprocessing
  (bilinear resize with half-pixel centres) where compare_gan used TF-GAN's resize_bilinear, and
  samples quantised to 8 bits, as jaxgen scores every model's.
- The study's VAE row has no config here: its VAE has batch norm in the decoder (jaxgen's VAEs
  have no batch statistics) and a cross-entropy on [0, 1] pixels (jaxgen's Bernoulli likelihood
  takes binarized data only).
"""

from configs import common
from jaxgen import config as config_lib
from jaxgen.methods import gan

DATASETS = ("mnist", "fashion_mnist")

# Variant -> (jaxgen loss, lr, β1, n_critic, D batch norm); the first is the default.
LOSSES = {
    "non_saturating": ("non_saturating", 2e-4, 0.5, 1, True),
    "minimax": ("minimax", 2e-4, 0.5, 1, True),
    "lsgan": ("lsgan_sigmoid", 2e-4, 0.5, 1, True),
    "wgan_gp": ("wgan_gp", 1e-4, 0.5, 5, False),
}

# The study's budget: discriminator updates of 64 real images (compare_gan's 20 * 50000 // 64).
D_UPDATES = 15_625
BATCH = 64

# (dataset, variant) -> the paper's best FID (mean, std), Table 2.
PAPER_FID = {
    ("mnist", "minimax"): (9.8, 0.9), ("fashion_mnist", "minimax"): (29.6, 1.6),
    ("mnist", "non_saturating"): (6.8, 0.5), ("fashion_mnist", "non_saturating"): (26.5, 1.6),
    ("mnist", "lsgan"): (7.8, 0.6), ("fashion_mnist", "lsgan"): (30.7, 2.2),
    ("mnist", "wgan_gp"): (20.3, 5.0), ("fashion_mnist", "wgan_gp"): (24.5, 2.1),
}


def get_config(arg: str = ""):
  """`DATASET,LOSS[,tiny]` in any order; mnist and non_saturating where left out."""
  arg = common.parse_arg(arg, "lucic_gan", dataset=DATASETS, loss=tuple(LOSSES), tiny=False)
  loss, lr, b1, n_critic, d_batch_norm = LOSSES[arg.loss]
  c = config_lib.base()
  c.update(gan.default_method_config("infogan"))
  c.data.name = arg.dataset
  c.data.train_split = "train"
  c.data.eval_split = "test"
  c.data.preprocess = "scale01"
  c.model.update(latent_dim=64, base_width=64, output="sigmoid",
                 d_norm="batch" if d_batch_norm else "none")
  c.gan.update(prior="uniform", n_critic=n_critic, gp_weight=10.0)
  c.loss = loss
  c.optimizer.update(lr=lr, b1=b1, b2=0.999)
  c.d_optimizer.update(lr=lr, b1=b1, b2=0.999)
  c.batch_size = BATCH * n_critic
  c.num_steps = D_UPDATES // n_critic
  c.log_every = 100
  c.eval_every = c.sample_every = c.checkpoint_every = c.num_steps // 4
  c.keep_checkpoints = 5
  if arg.tiny:
    common.tiny(c, train="train[:1024]", eval="test[:256]", steps=4)
    c.batch_size = 16 * n_critic
    common.tiny_gan(c)
  return c
