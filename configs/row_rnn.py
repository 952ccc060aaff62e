"""The row-by-row LSTM: the simplest RNN image model, the pixel models' baseline.

  python train.py --config configs/row_rnn.py:fashion_mnist --workdir runs/row_rnn_fashion_mnist
  python -m jaxgen.sample --workdir runs/row_rnn_fashion_mnist

The network: an LSTM reading the image one row per time step and predicting the next row (pixels of
a row are independent given the rows above).

Variants, and the training recipe: configs/common.py `pixel`;
`binarized_mnist` (default), `mnist`, `fashion_mnist`, `fashion_mnist8`, `cifar10`, `tiny`.

No published figure: it bounds from below what the pixel-level context of the other models buys.
Adam 1e-3, batch 64 and the epoch budgets (EPOCHS) are our choices. Figures measured here are in
the README (benchmarks/pixel.py).
"""

from configs import common

SIZES = {
    "binarized_mnist": dict(features=256, num_layers=2),
    "cifar10": dict(features=512, num_layers=2),
    **{d: dict(features=128, num_layers=1) for d in ("mnist", "fashion_mnist", "fashion_mnist8")},
}
# The CPU variants' budgets are about 5 minutes of a 2-core CPU each (README); mnist's is
# 160,000 images (2500 steps).
EPOCHS = dict(binarized_mnist=50, cifar10=50, fashion_mnist=5, fashion_mnist8=5,
              mnist=160_000 / 60_000)


def get_config(arg: str = ""):
  return common.pixel("row_rnn", arg, sizes=SIZES, epochs=EPOCHS)
