"""The one weights path: read a checkpoint, tell srlab's layout from an official one, compare keys, load.

Every loader of srlab goes through this module, so every file is read the same way (always
``torch.load(weights_only=True)``) and every mismatch is reported with the same text
(``missing (n): …; unexpected (n): …; shape mismatch (n): key: file (…) vs model (…)``):

- :func:`load_weights` — srlab's layout, strict (the network must be the file's);
- :func:`load_any_weights` — srlab's or an official layout, strict (``mode=test weights=``);
- :func:`init_from` — all but the scale-specific upsampler (staged training, ``init_from=``);
- :func:`load_official` — an official PFT / HAT / SwinIR / PlainUSR checkpoint, architecture detected
  (detection and key mapping: :mod:`srlab.nets.official`);
- :func:`build_from_weights` — a network built from what a file or run dir says it is (``srlab upscale``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from srlab.nets import official
from srlab.nets.registry import build_net

log = logging.getLogger("srlab")

WRAPPERS = ("params_ema", "params", "state_dict", "model")
SCALE_SPECIFIC = ("upsample.", "conv_last.")
"""Key prefixes of the scale-specific upsampler, which :func:`init_from` may leave at their initialisation."""

Source = str | os.PathLike[str] | Mapping[str, Any]


def refused_pickle(path: str | os.PathLike[str], err: pickle.UnpicklingError) -> ValueError:
    """The error for a file ``torch.load(weights_only=True)`` refused: it names the file and the object."""
    found = re.search(r"GLOBAL ([\w.]+)", str(err))
    what = f"the global {found.group(1)}" if found else str(err).splitlines()[0]
    return ValueError(
        f"{path}: refused to load: it holds Python objects other than tensors and plain containers ({what}). "
        "srlab reads weights and checkpoints with torch.load(weights_only=True) and never unpickles arbitrary "
        "objects; re-save a file you trust as a plain state dict"
    )


def read_checkpoint(path: str | os.PathLike[str]) -> Any:
    """The object stored in ``path``, read with ``weights_only=True``; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise refused_pickle(path, err) from err
    except Exception as err:
        raise ValueError(f"cannot read weights {path}: {err}") from err


def read_state_dict(source: Source) -> dict[str, torch.Tensor]:
    """A flat ``{name: tensor}`` from a path or an already loaded object.

    Unwraps BasicSR (``params_ema`` before ``params``), ``state_dict`` (Lightning: drops the ``net.``
    prefix of :class:`srlab.lit.SRModule`) and ``module.`` (DataParallel) prefixes.
    """
    obj = read_checkpoint(source) if isinstance(source, (str, os.PathLike)) else source
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


def key_mismatch(
    expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], ignore: tuple[str, ...] = ()
) -> str:
    """The one description of how ``state`` (a file) differs from ``expected`` (a model); "" if it fits.

    Keys starting with one of ``ignore`` are left out of the comparison.
    """
    own = {k for k in expected if not k.startswith(ignore)} if ignore else set(expected)
    got = {k for k in state if not k.startswith(ignore)} if ignore else set(state)
    missing = sorted(own - got)
    unexpected = sorted(got - own)
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(own & got)
        if state[k].shape != expected[k].shape
    ]
    parts = [
        f"{label} ({len(keys)}): {', '.join(keys[:8])}{' …' if len(keys) > 8 else ''}"
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes))
        if keys
    ]
    return "; ".join(parts)


def _label(source: object) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else "the state dict"


# ---------------------------------------------------------------------------------------------- modes


def load_weights(net: nn.Module, source: Source) -> nn.Module:
    """Load ``source`` (srlab's layout) into ``net`` strictly; a mismatch names the keys."""
    state = read_state_dict(source)
    if problems := key_mismatch(net.state_dict(), state):
        raise ValueError(f"weights {_label(source)} do not fit {type(net).__name__}: {problems}")
    net.load_state_dict(state, strict=True)
    return net


def load_official(source: Source, arch: str | None = None, scale: int | None = None) -> nn.Module:
    """An eval-mode srlab network holding an official checkpoint (PFT, HAT, SwinIR, PlainUSR).

    ``arch`` / ``scale``, when given, must match what the checkpoint is (a variant or family name). The
    network takes LR (N, 3, h, w) of any size and returns the raw, unclamped SR, padding as the official
    code does (PFT: symmetric flips to a multiple of 32 inside; HAT: reflect to 16 and crop, as HATModel;
    SwinIR: reflect to the window; PlainUSR: none). ``.double()`` runs it in float64.
    """
    state = read_state_dict(source)
    where = _label(source)
    detected = official.detect_official(state)
    if arch is not None and arch not in (detected.arch, detected.family):
        official.family_of(arch)
        raise ValueError(f"{where} holds a {detected.arch!r} ({detected.family}) checkpoint, not {arch!r}")
    if scale is not None and detected.spec["scale"] != scale:
        raise ValueError(f"{where} is a ×{detected.spec['scale']} checkpoint, not ×{scale}")
    net = build_net(detected.spec)
    expected, buffers = official.official_layout(detected, net.state_dict())
    if problems := key_mismatch(expected, state):
        raise ValueError(f"{where} does not fit {detected.arch} ×{detected.spec['scale']}: {problems}")
    official.check_buffers(detected.family, state, buffers)
    net.load_state_dict(official.to_srlab_state(detected.family, state, buffers), strict=True)
    return net.eval()


def load_any_weights(net: nn.Module, source: Source, scale: int) -> nn.Module:
    """Load srlab's own weights, or an official PFT/HAT/SwinIR/PlainUSR checkpoint mapped to srlab's layout.

    The configured network must be the checkpoint's: any difference is an error naming the keys.
    """
    state = read_state_dict(source)
    own = net.state_dict()
    if problems := key_mismatch(own, state):
        try:
            state = load_official(state, scale=scale).state_dict()
        except ValueError as err:
            raise ValueError(
                f"weights={_label(source)}: neither srlab's layout ({problems}) nor an official one ({err})"
            ) from None
        if problems := key_mismatch(own, state):
            raise ValueError(
                f"weights={_label(source)}: an official checkpoint of another network than the configured "
                f"one: {problems}"
            )
        log.info("weights=%s: official checkpoint, mapped to srlab's layout", _label(source))
    net.load_state_dict(state, strict=True)
    return net


def init_from(net: nn.Module, source: str | os.PathLike[str]) -> list[str]:
    """Staged training: load ``source`` into ``net`` except where the scale-specific upsampler differs.

    Everything outside ``upsample.*`` / ``conv_last.*`` must fit (missing, unexpected or reshaped keys
    there raise, named); upsampler tensors are loaded where their shapes agree, else keep their fresh
    initialisation, as BasicSR's ``strict_load: false`` does for PFT's and HAT's fine-tuning from ×2.
    Official checkpoints are mapped to srlab's layout first. Returns the keys left at initialisation.
    """
    own = net.state_dict()
    state = read_state_dict(source)
    if key_mismatch(own, state, ignore=SCALE_SPECIFIC):  # not srlab's layout: an official checkpoint?
        with contextlib.suppress(ValueError):  # neither: the comparison below names the keys
            state = load_official(state).state_dict()
    if problems := key_mismatch(own, state, ignore=SCALE_SPECIFIC):
        raise ValueError(
            f"init_from={source}: only upsample.* / conv_last.* may differ from the configured network, "
            f"but these do not fit: {problems}"
        )
    fits = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    skipped = sorted(set(own) - set(fits))
    net.load_state_dict(fits, strict=False)
    log.info("init_from=%s: loaded %d tensors, kept fresh %s", source, len(fits), skipped or "none")
    return skipped


# ---------------------------------------------------------------------------------------------- any file


@dataclass(frozen=True)
class Built:
    """A network built from a weights file: eval mode, its scale and a one-line description of the source."""

    net: nn.Module
    scale: int
    description: str


def _run_spec(folder: Path) -> tuple[dict[str, Any], str] | None:
    """The model spec a run dir records: ``summary.json``'s ``model_spec``, else ``last.ckpt``'s hparams."""
    summary = folder / "summary.json"
    if summary.is_file():
        try:
            spec = json.loads(summary.read_text()).get("model_spec")
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{summary}: cannot read it as JSON ({err})") from err
        if isinstance(spec, dict):
            return spec, str(summary)
    ckpt = folder / "checkpoints" / "last.ckpt"
    if ckpt.is_file():
        return _ckpt_spec(read_checkpoint(ckpt), ckpt), str(ckpt)
    return None


def _ckpt_spec(obj: Any, path: Path) -> dict[str, Any]:
    spec = obj.get("hyper_parameters", {}).get("net") if isinstance(obj, Mapping) else None
    if not isinstance(spec, Mapping):
        raise ValueError(f"{path}: a Lightning checkpoint without hyper_parameters['net'] (the network spec)")
    return dict(spec)


def build_from_weights(path: str | os.PathLike[str]) -> Built:
    """The network a weights file or an srlab run dir holds, built and loaded, in eval mode.

    - a run dir: its ``net_ema.pth`` (spec from ``summary.json``, else ``checkpoints/last.ckpt``), else
      its ``checkpoints/last.ckpt``;
    - a Lightning ``.ckpt``: the spec is ``hyper_parameters["net"]``;
    - an srlab ``.pth`` (``net_ema.pth``): the spec from the run dir it lies in (or its parent);
    - an official PFT / HAT / SwinIR / PlainUSR checkpoint: detected (:func:`load_official`).

    Raises FileNotFoundError / ValueError naming the path when it is missing or none of these.
    """
    path = Path(path)
    if path.is_dir():
        for candidate in (path / "net_ema.pth", path / "checkpoints" / "last.ckpt"):
            if candidate.is_file():
                return build_from_weights(candidate)
        raise FileNotFoundError(
            f"{path}: a folder without net_ema.pth or checkpoints/last.ckpt (not a finished srlab run dir)"
        )
    obj = read_checkpoint(path)
    spec: dict[str, Any] | None = None
    if isinstance(obj, Mapping) and "hyper_parameters" in obj:
        spec, origin = _ckpt_spec(obj, path), "its hyper-parameters"
    state = read_state_dict(obj)
    if spec is None:
        try:
            net = load_official(state)
        except ValueError as err:
            found = next((r for r in (_run_spec(d) for d in (path.parent, path.parent.parent)) if r), None)
            if found is None:
                raise ValueError(
                    f"{path}: unknown checkpoint layout: not an official PFT/HAT/SwinIR/PlainUSR checkpoint "
                    f"({err}), not a Lightning .ckpt, and no srlab run dir (summary.json or "
                    "checkpoints/last.ckpt) beside it to say which network its weights are"
                ) from None
            spec, origin = found
        else:
            detected = official.detect_official(state)
            return Built(
                net, detected.spec["scale"], f"official {detected.arch} ×{detected.spec['scale']} ({path})"
            )
    try:
        net = build_net(spec)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: the network spec from {origin} does not build: {err}") from None
    load_weights(net, state)
    return Built(
        net.eval(), int(spec["scale"]), f"srlab {spec['arch']} ×{spec['scale']} ({path}, spec from {origin})"
    )
