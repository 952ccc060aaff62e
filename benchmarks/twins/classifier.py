"""Twin of jaxgen.models.classifier / jaxgen.methods.classifier: conv-BN-ReLU ×convs_per_stage
and 2×2 max pooling per stage, a dense feature layer with batch norm, dropout, the head;
random horizontal flips, softmax cross-entropy, Adam with jaxgen's cosine decay."""

import math

import ml_collections
import torch
import torch.nn.functional as F
from torch import nn

from twins import Twin, common


def classifier(c: ml_collections.ConfigDict, shape) -> nn.Sequential:
  height, width, channels = shape
  layers, prev = [], channels
  for features in c.features:
    for _ in range(c.convs_per_stage):
      layers += [nn.Conv2d(prev, features, 3, padding=1, bias=False),
                 nn.BatchNorm2d(features, momentum=0.1), nn.ReLU()]  # Flax's momentum 0.9
      prev = features
    layers.append(nn.MaxPool2d(2))
    height, width = height // 2, width // 2
  return nn.Sequential(*layers, nn.Flatten(),
                       nn.Linear(prev * height * width, c.feature_dim, bias=False),
                       nn.BatchNorm1d(c.feature_dim, momentum=0.1), nn.ReLU(),
                       nn.Dropout(c.dropout), nn.Linear(c.feature_dim, common.NUM_CLASSES))


def make(config: ml_collections.ConfigDict, shape, padding) -> Twin:
  del padding
  if config.augment.shift:
    raise NotImplementedError("the classifier twin has no random shifts")
  model = classifier(config.model, shape)
  opt = common.Adam(model.parameters(), config.optimizer)
  num_steps = config.num_steps
  schedule = {"constant": lambda t: 1.0,
              # optax.cosine_decay_schedule(1.0, num_steps), as jaxgen.methods.classifier
              "cosine": lambda t: 0.5 * (1.0 + math.cos(math.pi * min(t, num_steps) / num_steps))}
  scheduler = torch.optim.lr_scheduler.LambdaLR(opt.optimizer, schedule[config.lr_schedule])
  x = common.images(config, shape, config.batch_size)
  labels = torch.randint(0, common.NUM_CLASSES, (config.batch_size,))
  flip = config.augment.flip

  def step():
    images = x
    if flip:
      images = torch.where(torch.rand(x.shape[0], 1, 1, 1) < 0.5, x.flip(3), x)
    loss = opt.update(lambda: F.cross_entropy(model(images), labels))
    scheduler.step()
    return loss

  return Twin(step, {"classifier": common.count(model)}, "")
