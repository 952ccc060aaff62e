"""The classifier's model: its pooling against Flax's."""

import flax.linen as nn
import jax
import numpy as np
import pytest

from jaxgen.models import classifier as classifier_models


@pytest.mark.parametrize("shape", [(2, 28, 28, 5), (2, 7, 9, 3)])
def test_max_pool_2x2_is_flax_max_pool(shape):
  x = jax.random.normal(jax.random.key(0), shape)
  np.testing.assert_array_equal(classifier_models.max_pool_2x2(x),
                                nn.max_pool(x, (2, 2), strides=(2, 2)))
