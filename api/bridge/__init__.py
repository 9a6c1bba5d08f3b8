"""`spectral-edge bridge`: mirror each run's window metrics and alerts into the tracker users
already look at (TensorBoard event files, an MLflow tracking server, W&B offline runs).

`mirror.py` reads the api through `api.client` and remembers what it has sent; each tracker is a
`Sink` of its own module. Nothing runs inside the training job.
"""
