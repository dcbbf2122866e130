"""Staged training: start a network from another stage's weights (×2 → ×3/×4, pre-training → fine-tuning).

Everything must fit except the scale-specific upsampler (``upsample.*``, ``conv_last.*``), which is loaded
where its shapes agree and otherwise keeps its fresh initialisation, as BasicSR's ``strict_load: false``
does for PFT's and HAT's fine-tuning from ×2. Official checkpoints are mapped to srlab's layout first.
"""

from __future__ import annotations

import logging
import os

import torch
from torch import nn

from srlab.nets.official import load_official
from srlab.nets.weights import read_state_dict

log = logging.getLogger("srlab")

SCALE_SPECIFIC = ("upsample.", "conv_last.")


def _srlab_layout(state: dict[str, torch.Tensor], own: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` as is when its non-upsampler keys are srlab's, else mapped from an official checkpoint."""
    body = {k for k in own if not k.startswith(SCALE_SPECIFIC)}
    if body <= set(state):
        return state
    try:
        return load_official(state).state_dict()
    except ValueError:
        return state  # neither layout: init_from names the keys that do not fit


def init_from(net: nn.Module, source: str | os.PathLike[str]) -> list[str]:
    """Load ``source`` into ``net``; returns the upsampler keys left at their initialisation.

    Raises ValueError naming the keys when anything outside ``upsample.*`` / ``conv_last.*`` is missing,
    unexpected or of another shape.
    """
    own = net.state_dict()
    state = _srlab_layout(read_state_dict(source), own)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    errors = [k for k in (*missing, *unexpected, *shapes) if not k.startswith(SCALE_SPECIFIC)]
    if errors:
        shown = ", ".join(errors[:8]) + (f" … ({len(errors)} keys)" if len(errors) > 8 else "")
        raise ValueError(
            f"init_from={source}: only upsample.* / conv_last.* may differ from the configured network, "
            f"but these do not fit: {shown}"
        )
    skipped = sorted({*missing, *shapes})
    net.load_state_dict({k: v for k, v in state.items() if k in own and k not in shapes}, strict=False)
    log.info(
        "init_from=%s: loaded %d tensors, kept fresh %s", source, len(own) - len(skipped), skipped or "none"
    )
    return skipped
