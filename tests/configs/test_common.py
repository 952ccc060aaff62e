"""configs/common.py: the variant parser every config uses, and the recipes' key sets."""

import pytest

from configs import common
from jaxgen.models import gan as gan_models

SPEC = dict(dataset=("mnist", "fashion_mnist"), loss=(None, "hinge", "wgan_gp"), tiny=False,
            ema=False)


@pytest.mark.parametrize("arg,expected", [
    ("", dict(dataset="mnist", loss=None, tiny=False, ema=False)),
    ("tiny", dict(dataset="mnist", loss=None, tiny=True, ema=False)),
    ("wgan_gp,fashion_mnist,ema", dict(dataset="fashion_mnist", loss="wgan_gp", tiny=False,
                                       ema=True)),
    (" tiny , loss=hinge ", dict(dataset="mnist", loss="hinge", tiny=True, ema=False)),
    ("dataset=mnist,tiny", dict(dataset="mnist", loss=None, tiny=True, ema=False)),
])
def test_parse_arg_reads_flags_and_choices_in_any_order(arg, expected):
  assert common.parse_arg(arg, "cfg", **SPEC).to_dict() == expected


@pytest.mark.parametrize("arg,why", [
    ("tiyn", "unknown word 'tiyn'"),
    ("mnist,fashion_mnist", "dataset given twice"),
    ("tiny,tiny", "tiny given twice"),
    ("loss=lsgan", "unknown choice 'loss=lsgan'"),
    ("size=3", "unknown choice 'size=3'"),
])
def test_parse_arg_names_the_config_the_bad_word_and_what_it_takes(arg, why):
  with pytest.raises(ValueError) as error:
    common.parse_arg(arg, "cfg", **SPEC)
  message = str(error.value)
  assert message.startswith(f"config cfg: {why} in {arg!r}")
  assert "dataset (mnist, fashion_mnist); loss (hinge, wgan_gp); tiny; ema" in message


def test_dcgan_recipe_holds_only_the_dcgan_models_keys():
  c = common.dcgan("fashion_mnist", pad_to=32)
  assert set(c.model) == {"name", *gan_models.DEFAULTS["dcgan"]}
  assert "hidden_g" not in c.model and c.model.name == "dcgan"
