"""Keep-count schedules K^l: how many keys each query keeps, per layer (``conf/keep/``).

Policies (``keep.policy``):

- ``full``: K^l = N (window² tokens) everywhere, no sparsification.
- ``list``: ``keep.values``, one K^l per layer in global layer order.
- ``pft``: PFT's published schedule shape, per residual group (see :func:`pft_schedule`).
- ``ratio``: ``keep.ratios``, one keep ratio r per group; K = max(1, round(r·N)) for its layers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

POLICIES = ("full", "list", "pft", "ratio")


def pft_schedule(n_tokens: int, depths: Sequence[int]) -> list[int]:
    """PFT's schedule shape scaled to any window and depth, one K^l per layer.

    Group 0 keeps all N tokens; group g ≥ 1 keeps ⌊N / 2^(g+1)⌋ (N/4, N/8, N/16, …), never below 1. At
    N = 1024 this is exactly PFT's ``num_topk``: [1024]×4, [256]×4, [128]×4, [64]×6, [32]×6, [16]×6 for depths
    [4, 4, 4, 6, 6, 6], and PFT-light's [1024]×2, [256]×4, [128]×6, [64]×6, [32]×6 for [2, 4, 6, 6, 6]. The first
    selection keeps N/4 = (ws/2)², the smallest same-region block of a shifted window, so masked keys
    do not enter the index sets. Window 16 (N = 256) gives 256, 64, 32, 16, 8, 4; window 8 gives 64, 16, 8, 4, 2, 1.
    """
    return [
        n_tokens if g == 0 else max(1, n_tokens >> (g + 1))
        for g, depth in enumerate(depths)
        for _ in range(depth)
    ]


def _per_group(ratios: Sequence[float], n_tokens: int, depths: Sequence[int]) -> list[int]:
    """K = max(1, round(r·N)) for every layer of the group of ratio r; checks count and range."""
    if len(ratios) != len(depths):
        raise ValueError(
            f"keep.ratios={list(ratios)} has {len(ratios)} entries but depths={list(depths)} has {len(depths)} groups"
        )
    bad = [r for r in ratios if not 0 < r <= 1]
    if bad:
        raise ValueError(f"keep.ratios={list(ratios)}: ratio {bad[0]} is outside (0, 1]")
    return [
        max(1, round(r * n_tokens)) for r, depth in zip(ratios, depths, strict=True) for _ in range(depth)
    ]


def _required(policy: Mapping[str, Any], key: str) -> Any:
    if policy.get(key) is None:
        raise ValueError(f"keep.{key} is required for keep.policy={policy.get('policy')!r}")
    return policy[key]


def resolve_keep(policy: Mapping[str, Any], n_tokens: int, depths: list[int]) -> list[int]:
    """One K^l per layer for a ``keep`` config, checked against N = ``n_tokens`` and the depth."""
    n_layers = sum(depths)
    kind = policy.get("policy")
    if kind == "full":
        return [n_tokens] * n_layers
    if kind == "pft":
        return pft_schedule(n_tokens, depths)
    if kind == "ratio":
        return _per_group([float(r) for r in _required(policy, "ratios")], n_tokens, depths)
    if kind != "list":
        raise ValueError(f"keep.policy={kind!r}: expected one of {list(POLICIES)}")
    values = [int(v) for v in _required(policy, "values")]
    if len(values) != n_layers:
        raise ValueError(
            f"keep.values={values} has {len(values)} entries but the network has {n_layers} layers"
        )
    bad = [v for v in values if not 1 <= v <= n_tokens]
    if bad:
        raise ValueError(f"keep.values={values}: K^l={bad[0]} is outside [1, window²={n_tokens}]")
    return values
