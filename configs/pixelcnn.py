"""PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", section 3.5).

  python train.py --config configs/pixelcnn.py:fashion_mnist --workdir runs/pixelcnn_fashion_mnist
  python -m jaxgen.sample --workdir runs/pixelcnn_fashion_mnist

The network: a 7×7 mask-A convolution, residual blocks of 1×1 → 3×3 mask-B → 1×1 convolutions (2h
channels on the residual stream, h inside), two ReLU + 1×1 output layers.

Variants, and the training recipe (ours, not the papers'): configs/common.py
`pixel`; `binarized_mnist` (default, the paper's network), `mnist`, `fashion_mnist`,
`fashion_mnist8`, `cifar10`, `tiny`. Measured figures: README (benchmarks/pixel.py).

Published test NLLs, for orientation only (other recipes): binarized MNIST 81.30 nats (the figure
usually cited for PixelCNN); pytorch-generative reports 81.45 with 15 residual blocks of 128
channels (h = 64) and 32-channel output layers, the network used here. CIFAR-10: 3.14 bits/dim
(paper, table 3: 15 layers, h = 128).
"""

from configs import common

SIZES = {
    "binarized_mnist": dict(features=64, num_layers=15, out_features=32),
    "cifar10": dict(features=128, num_layers=15, out_features=1024),
    **{d: dict(features=32, num_layers=5, out_features=32)
       for d in ("mnist", "fashion_mnist", "fashion_mnist8")},
}
# The CPU variants' budgets are about 5 minutes of a 2-core CPU each (README); mnist's is
# 32,000 images (500 steps).
EPOCHS = dict(binarized_mnist=50, cifar10=50, fashion_mnist=0.5, fashion_mnist8=0.5,
              mnist=32_000 / 60_000)


def get_config(arg: str = ""):
  return common.pixel("pixelcnn", arg, sizes=SIZES, epochs=EPOCHS)
