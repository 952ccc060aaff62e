"""PixelRNN Row LSTM (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", section 3.1).

  python train.py --config configs/row_lstm.py:fashion_mnist --workdir runs/row_lstm_fashion_mnist
  python -m jaxgen.sample --workdir runs/row_lstm_fashion_mnist

The network: a 7×7 mask-A convolution, Row LSTM layers (1×3 mask-B input-to-state, width-3 state-
to-state convolution over the row above) with residual connections, two ReLU + 1×1 output layers.

Variants, and the training recipe (ours, not the papers'): configs/common.py
`pixel`; `binarized_mnist` (default, the paper's network), `mnist`, `fashion_mnist`,
`fashion_mnist8`, `cifar10`, `tiny`. Measured figures: README (benchmarks/pixel.py).

Published test NLLs, for orientation only (other recipes): binarized MNIST 80.54 nats (the figure
cited for the Row LSTM); the network here is the paper's MNIST size (7 layers, h = 16). CIFAR-10:
3.07 bits/dim (paper, table 3: 12 layers, h = 128; 126 here, the nearest multiple of the 3 colour
groups).
"""

from configs import common

SIZES = {
    "binarized_mnist": dict(features=16, num_layers=7, out_features=32),
    "cifar10": dict(features=126, num_layers=12, out_features=1024),
    **{d: dict(features=16, num_layers=2, out_features=32)
       for d in ("mnist", "fashion_mnist", "fashion_mnist8")},
}
# The CPU variants' budgets are about 5 minutes of a 2-core CPU each (README); mnist's is
# 48,000 images (750 steps).
EPOCHS = dict(binarized_mnist=50, cifar10=50, fashion_mnist=1, fashion_mnist8=1,
              mnist=48_000 / 60_000)


def get_config(arg: str = ""):
  return common.pixel("row_lstm", arg, sizes=SIZES, epochs=EPOCHS)
