"""Exceptions of the analyzer package.

AnalyzerError
 ├── SpectrumError       (input the spectral math cannot take: wrong shape, too few updates)
 │    └── NonFiniteError (NaN or Inf in the input, or a spectrum that overflows float64)
 ├── StateError          (state in Redis is missing or unreadable, or a compare-and-set kept losing)
 └── RejectedError       (a decoded message that cannot be applied; `reason` is counted)
"""


class AnalyzerError(Exception):
    """Root of every error the analyzer raises."""


class SpectrumError(AnalyzerError, ValueError):
    """The spectral math was given an array it cannot take."""


class NonFiniteError(SpectrumError):
    """The input holds NaN or Inf, or its spectrum overflows float64."""


class StateError(AnalyzerError):
    """Stored state cannot be read back, or an optimistic update lost too many races."""


class RejectedError(AnalyzerError):
    """A well-formed message the analyzer refuses; `reason` is a short token it is counted by."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
