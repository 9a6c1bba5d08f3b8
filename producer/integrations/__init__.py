"""Framework callbacks: `huggingface.SpectralEdgeCallback`, `lightning.SpectralEdgeCallback`.

Each module imports its framework, so import only the one you use; `producer` imports neither.
"""

from producer.integrations.scalars import scalar_name, scalars_from

__all__ = ["scalar_name", "scalars_from"]
