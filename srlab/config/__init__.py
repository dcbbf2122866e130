"""Config composition, schemas and compose-time validation (the layer that knows Hydra, below the driver).

- :mod:`srlab.config.schema`: structured-config dataclasses of srlab's own formats (model preset, keep
  schedule), registered in Hydra's ConfigStore by :func:`register_schemas`.
- :mod:`srlab.config.arguments`: keys and types of a node checked against the signature of what it
  configures (attention mixer, network, data module, Trainer).
- :mod:`srlab.config.knobs`: the top-level knobs, typed, as the plain values architectures take.
- :mod:`srlab.config.validate`: :func:`validate`, every rule that can fail before data or model work
  (the architecture's own value rules come from its registry entry in :mod:`srlab.nets.registry`).
- :mod:`srlab.config.compose`: :func:`compose_config` outside a run and :func:`model_spec`.
- :mod:`srlab.config.sweep`: a sweep's jobs and their validation before any job runs.
"""

from __future__ import annotations

from srlab.config.schema import register_schemas
from srlab.config.validate import ConfigError, validate

__all__ = ["ConfigError", "register_schemas", "validate"]
