"""Exceptions of the producer package.

ProducerError
 ├── ConfigError   (a bad argument or SPECTRAL_EDGE_* variable)
 ├── ShardError    (a parameter layout the sketch cannot place in global coordinates)
 └── WireError     (a message that cannot be encoded or decoded; `reason` is machine-readable)
"""


class ProducerError(Exception):
    """Root of every error the producer raises (never into a training loop: hooks catch them)."""


class ConfigError(ProducerError):
    """A configuration value is missing or invalid."""


class ShardError(ProducerError):
    """A sharded parameter whose placement has no global-coordinate mapping here."""


class WireError(ProducerError):
    """A wire message is malformed; `reason` is a short token the analyzer counts rejections by."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
