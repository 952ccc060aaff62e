"""The Method contract's pieces (jaxgen/methods/base.py): count_steps sets the step, the slots
are typed by their Protocols, and every built-in family fits them (a method trained through
the contract alone: tests/test_method_contract.py)."""

import inspect

import jax
import jax.numpy as jnp
import pytest

from helpers import load_config
from jaxgen import methods
from jaxgen.methods.base import (EvalStepFn, InitFn, InterpolateFn, Method, ReconstructFn,
                                 SampleFn, SampleSequenceFn, TrainState, TrainStepFn)


def test_count_steps_sets_the_step_whatever_the_method_returned():
  state = TrainState(step=jnp.asarray(4, jnp.int32), params={}, opt_state={}, collections={})
  for delta in (0, 1, 7):
    step = methods.base.count_steps(lambda s, b, k, d=delta: (s.replace(step=s.step + d), {}))
    new_state, _ = jax.jit(step)(state, {}, jax.random.key(0))
    assert int(new_state.step) == 5 and new_state.step.dtype == jnp.int32


SLOTS = {"init": InitFn, "train_step": TrainStepFn, "eval_step": EvalStepFn,
         "sample": SampleFn, "reconstruct": ReconstructFn, "interpolate": InterpolateFn,
         "sample_sequence": SampleSequenceFn}


def test_method_slots_are_typed_by_their_protocols():
  assert {name: Method.__annotations__[name] for name in Method._fields} == {
      name: p if name in ("init", "train_step", "eval_step") else p | None
      for name, p in SLOTS.items()}


@pytest.mark.parametrize("name,family", [
    ("vae_fashion_mnist", "vae"), ("dcgan_fashion_mnist", "gan"),
    ("classifier_fashion_mnist", "classifier"), ("draw_fashion_mnist", "draw"),
    ("pixelcnn", "autoregressive")])
def test_every_family_sets_its_method_and_fits_the_protocols(name, family):
  """Each family's defaults name it, and each slot it fills takes its Protocol's arguments
  in order (the trainer passes them by position)."""
  assert set(methods.METHODS) == {"vae", "gan", "classifier", "draw", "autoregressive"}
  c = load_config(name)
  assert getattr(methods, family).default_method_config().method == c.method == family
  side = c.data.pad_to or 28
  method = methods.get(c, methods.base.DataSpec((side, side, 1), 10))
  for slot, protocol in SLOTS.items():
    fn = getattr(method, slot)
    if fn is None:
      continue
    params = list(inspect.signature(protocol.__call__).parameters.values())[1:]
    args = [p.name for p in params if p.default is inspect.Parameter.empty]
    inspect.signature(fn).bind(*args)  # the required arguments, by position
    inspect.signature(fn).bind(*[p.name for p in params])  # and the optional ones
