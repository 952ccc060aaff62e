"""DRAW on dynamically binarized Fashion-MNIST, sized to train on a 2-core CPU.

  python train.py --config configs/draw_fashion_mnist.py --workdir runs/draw_fashion_mnist
  python -m jaxgen.evaluate --workdir runs/draw_fashion_mnist --iwae_k 100

Selective attention with 5×5 read and 5×5 write glimpses over T = 16 steps (the paper's MNIST
model takes 64 steps of 2×2 reads, about 3x slower per image), 256 LSTM units, 100-dim z_t;
Adam 1e-3 with gradients clipped to global norm 5, batch 100, 10 epochs: 6,000 steps, about
25 minutes at the ~450 images/s measured on the 2-core CPU. Fashion-MNIST comes from
the IDX files of Debian's `dataset-fashion-mnist` when TFDS has not prepared it.

Variants: `:tiny` (seconds, for tests), `:noattn` (the paper's no-attention DRAW: the whole
image and error image read, a full-size write; same T, units and z).
"""

from configs import common
from jaxgen import config as config_lib
from jaxgen.methods import draw


def get_config(arg: str = ""):
  arg = common.parse_arg(arg, "draw_fashion_mnist", tiny=False, noattn=False)
  c = config_lib.base()
  c.update(draw.default_method_config("no_attention" if arg.noattn else "attention"))
  c.data.name = "fashion_mnist"
  c.data.preprocess = "binarize"
  c.model.steps = 16
  if not arg.noattn:
    c.model.update(read_n=5, write_n=5)
  c.batch_size = 100
  c.num_steps = 10 * (60_000 // 100)  # 10 epochs
  c.log_every = 200
  c.eval_every = c.sample_every = c.checkpoint_every = 2_000
  if arg.tiny:
    common.tiny(c, train="train[:2048]", eval="test[:256]")
    common.tiny_draw(c)
  return c
