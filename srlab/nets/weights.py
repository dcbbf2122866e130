"""Load weights from files srlab and the SR community write: ``.pth`` (``params_ema`` / ``params`` /
``state_dict`` / bare) and Lightning ``.ckpt``, always with ``weights_only=True``."""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

WRAPPERS = ("params_ema", "params", "state_dict", "model")


def refused_pickle(path: str | os.PathLike[str], err: pickle.UnpicklingError) -> ValueError:
    """The error for a file ``torch.load(weights_only=True)`` refused: it names the file and the object."""
    found = re.search(r"GLOBAL ([\w.]+)", str(err))
    what = f"the global {found.group(1)}" if found else str(err).splitlines()[0]
    return ValueError(
        f"{path}: refused to load: it holds Python objects other than tensors and plain containers ({what}). "
        "srlab reads weights and checkpoints with torch.load(weights_only=True) and never unpickles arbitrary "
        "objects; re-save a file you trust as a plain state dict"
    )


def read_state_dict(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """A flat ``{name: tensor}`` from a path or an already loaded object.

    Unwraps BasicSR (``params_ema`` before ``params``), ``state_dict`` (Lightning: drops the ``net.``
    prefix of :class:`srlab.lit.SRModule`) and ``module.`` (DataParallel) prefixes.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
        try:
            obj: Any = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise refused_pickle(path, err) from err
        except Exception as err:
            raise ValueError(f"cannot read weights {path}: {err}") from err
    else:
        obj = source
    for key in WRAPPERS:
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{source!s:.200}: expected a state dict of tensors (or one wrapped in {WRAPPERS})")
    state = dict(obj)
    for prefix in ("net.", "module."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def load_weights(net: nn.Module, source: str | os.PathLike[str] | Mapping[str, Any]) -> nn.Module:
    """Load ``source`` into ``net`` strictly; a mismatch names the missing and unexpected keys."""
    state = read_state_dict(source)
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if state[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        parts = [
            f"{label} ({len(keys)}): {', '.join(keys[:8])}{' …' if len(keys) > 8 else ''}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes))
            if keys
        ]
        raise ValueError(f"weights {source!s:.200} do not fit {type(net).__name__}: " + "; ".join(parts))
    net.load_state_dict(state, strict=True)
    return net
