"""Keep-count schedules K^l: how many keys each query keeps, per layer (``conf/keep/``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def resolve_keep(policy: Mapping[str, Any], n_tokens: int, depths: list[int]) -> list[int]:
    """One K^l per layer for a ``keep`` config, checked against N = ``n_tokens`` and the depth."""
    n_layers = sum(depths)
    kind = policy.get("policy")
    if kind == "full":
        return [n_tokens] * n_layers
    if kind == "list":
        values = [int(v) for v in policy["values"]]
        if len(values) != n_layers:
            raise ValueError(f"keep.values has {len(values)} entries but the network has {n_layers} layers")
    else:
        raise ValueError(f"keep.policy={kind!r}: expected one of ['full', 'list']")
    bad = [v for v in values if not 1 <= v <= n_tokens]
    if bad:
        raise ValueError(f"keep: K^l={bad[0]} is outside [1, window²={n_tokens}]")
    return values
