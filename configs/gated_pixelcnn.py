"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders").

  python train.py --config configs/gated_pixelcnn.py:fashion_mnist --workdir runs/gated_pixelcnn_fashion_mnist
  python -m jaxgen.sample --workdir runs/gated_pixelcnn_fashion_mnist

The network: vertical and horizontal stacks without a blind spot, gated tanh·sigmoid units, a 7×7
first layer and `kernel_size` later ones; `--config.model.conditional=True` adds the class-
conditional bias (labelled datasets).

Variants, and the training recipe (ours, not the papers'): configs/common.py
`pixel`; `binarized_mnist` (default, the paper's network), `mnist`, `fashion_mnist`,
`fashion_mnist8`, `cifar10`, `tiny`. Measured figures: README (benchmarks/pixel.py).

Published test NLLs, for orientation only (other recipes): binarized MNIST: pytorch-generative
reports 81.50 nats (10 gated layers of 128 channels, 32-channel output layers: the network used
here). CIFAR-10: 3.03 bits/dim (paper, table 1: 20 layers of 384 channels, 5×5 filters).
"""

from configs import common

SIZES = {
    "binarized_mnist": dict(features=128, num_layers=10, kernel_size=3, out_features=32),
    "cifar10": dict(features=384, num_layers=20, kernel_size=5, out_features=1024),
    **{d: dict(features=32, num_layers=5, kernel_size=3, out_features=32)
       for d in ("mnist", "fashion_mnist", "fashion_mnist8")},
}
# The CPU variants' budgets are about 5 minutes of a 2-core CPU each (README); mnist's is
# 24,000 images (375 steps).
EPOCHS = dict(binarized_mnist=50, cifar10=50, fashion_mnist=0.5, fashion_mnist8=0.5,
              mnist=24_000 / 60_000)


def get_config(arg: str = ""):
  return common.pixel("gated_pixelcnn", arg, sizes=SIZES, epochs=EPOCHS)
