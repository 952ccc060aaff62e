"""Writes the offline IDX files of a dataset as a prepared TFDS dataset, so that the TFDS path of
`sources.load` runs, and is tested, without a network:

  python -m jaxgen.data.prepare fashion_mnist --data_dir ~/tensorflow_datasets [--limit 500]

The result is read by TFDS's own registered builder, `tfds.builder(NAME, data_dir=D)`, under
its name, version and features (image (28, 28, 1) uint8, label ClassLabel(10)). Only the splits
present offline are written: for mnist, the test split. Examples keep the IDX order
(disable_shuffling), so "test[:8000]" names the same images whichever source serves it.
"""

import tensorflow_datasets as tfds
from absl import app, flags, logging

from jaxgen import cli
from jaxgen.data import sources
from jaxgen.types import ConfigError

NAMES = ("fashion_mnist", "mnist")  # the datasets with offline IDX files (sources.offline_idx_dir)


def prepare_tfds(name: str, data_dir: str, limit: int | None = None) -> str:
  """Prepares `name` (mnist or fashion_mnist) in `data_dir`; returns the dataset's directory."""
  if name not in NAMES:
    raise ConfigError(f"unknown dataset {name!r}; expected {' or '.join(NAMES)}")
  directory = sources.offline_idx_dir(name)
  if directory is None:
    raise FileNotFoundError(f"{name}: no offline IDX files to prepare from (those of mnist or "
                            "fashion_mnist, see jaxgen/data/sources.py)")
  reference = tfds.builder(name, data_dir=data_dir)  # the registered builder: name, version, info
  if reference.is_prepared():
    raise FileExistsError(f"{name} is already prepared in {reference.data_dir}; delete it first")
  splits = {split: _examples(sources.read_idx_split(directory, split), limit)
            for split in ("train", "test") if sources.has_idx_split(directory, split)}
  info = reference.info
  builder = tfds.dataset_builders.store_as_tfds_dataset(
      name=reference.name, version=reference.version, features=info.features,
      split_datasets=splits, data_dir=data_dir, description=info.description,
      homepage=info.homepage, citation=info.citation, disable_shuffling=True)
  logging.info("%s: wrote splits %s from %s to %s", name, sorted(splits), directory,
               builder.data_dir)
  return str(builder.data_dir)


def _examples(dataset: sources.Dataset, limit: int | None):
  """(key, example) pairs, the input store_as_tfds_dataset takes from plain Python."""
  rows = zip(dataset.images[:limit], dataset.labels[:limit])
  return [(i, {"image": image, "label": int(label)}) for i, (image, label) in enumerate(rows)]


def main(argv):
  if len(argv) != 2:
    raise app.UsageError("usage: python -m jaxgen.data.prepare NAME --data_dir D [--limit N]")
  if argv[1] in NAMES:  # else prepare_tfds says the name is unknown (first)
    cli.check_writable(flags.FLAGS.data_dir, f"--data_dir {flags.FLAGS.data_dir}")
  print(prepare_tfds(argv[1], flags.FLAGS.data_dir, flags.FLAGS.limit))


if __name__ == "__main__":
  # Defined here, not at import, so importing prepare_tfds adds no global flags.
  flags.DEFINE_string("data_dir", None, "TFDS data directory to write into.", required=True)
  flags.DEFINE_integer("limit", None, "Keep only the first N examples of each split.")
  cli.run(main)
