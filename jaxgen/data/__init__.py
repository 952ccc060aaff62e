"""Data: sources -> uint8 arrays (sources.py), jit-side preprocessing (preprocess.py), and the
loaders that turn a dataset into batches on the device(s) (loader.py)."""

from jaxgen.data.loader import OnDeviceLoader, StreamingLoader, make_loader
from jaxgen.data.preprocess import MODES, pad_to, pad_widths, preprocess
from jaxgen.data.sources import Dataset, load
