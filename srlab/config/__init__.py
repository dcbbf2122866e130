"""Config schemas and compose-time validation (the ``srlab.train`` layer: may know Hydra).

- :mod:`srlab.config.schema`: structured-config dataclasses of srlab's own formats (model preset, keep
  schedule), registered in Hydra's ConfigStore by :func:`register_schemas`.
- :mod:`srlab.config.arguments`: keys and types of a node checked against the signature of what it
  configures (attention mixer, network, data module, Trainer).
- :mod:`srlab.config.validate`: the value rules (scale, window, K^l, α, γ, patch) and :func:`validate`.
- :mod:`srlab.config.sweep`: a sweep's jobs and their validation before any job runs.
"""

from __future__ import annotations

from srlab.config.schema import register_schemas
from srlab.config.validate import ConfigError, validate

__all__ = ["ConfigError", "register_schemas", "validate"]
