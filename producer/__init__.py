"""spectral-edge producer: sketch parameters inside a training job and send them to the analyzer.

`watch(model, optimizer)` hooks the optimizer; `log(step, **scalars)` sends scalars. Importing this
package does not import torch.
"""

from producer.config import ProducerConfig
from producer.hooks import Watch, log, watch
from producer.sketch import CountSketch

__version__ = "0.1.0"
__all__ = ["CountSketch", "ProducerConfig", "Watch", "__version__", "log", "watch"]
