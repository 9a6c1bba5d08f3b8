"""spectral-edge producer: sketch parameters inside a training job and send them to the analyzer.

`watch(model, optimizer)` hooks the optimizer; `log(step, **scalars)` sends scalars; `sync(dir)`
replays an offline spool. Importing this package does not import torch.
"""

from producer.config import ProducerConfig
from producer.dense import DenseGaussian
from producer.hooks import Watch, log, watch
from producer.sketch import CountSketch
from producer.sync import sync

__version__ = "0.1.0"
__all__ = [
    "CountSketch",
    "DenseGaussian",
    "ProducerConfig",
    "Watch",
    "__version__",
    "log",
    "sync",
    "watch",
]
