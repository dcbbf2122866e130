"""Compose-time validation of a job config: every rule that can fail before data or model work, in one place.

:func:`validate` runs in ``srlab.train.compose_config`` (``srlab check``/``flops``/``table``), first thing in
``srlab.train.run`` (every job, also a sweep's) and on a whole sweep grid before it launches
(:mod:`srlab.config.sweep`). Each failure is a :class:`ConfigError` whose message names the key, the value
and what is allowed. Cheap rules run first; the signature checks import the mixer, network, data module and
Trainer classes they check against.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException, ValidationError

from srlab.config.arguments import ConfigError, check_arguments, signature
from srlab.config.schema import KeepSchema, ModelSchema

__all__ = ["ConfigError", "check_window_fits_patch", "validate"]

# WindowSR arguments the top-level knobs set (model_spec passes them): net argument → config key.
SET_BY_KNOBS = {"scale": "scale", "window_size": "window", "attn": "attn", "keep": "keep",
                "ca_weight": "ca_weight", "overlap": "overlap"}  # fmt: skip


@dataclass
class Knobs:
    """The top-level knobs of ``conf/config.yaml``, typed (``window=abc`` fails here, not in a layer)."""

    scale: int
    window: int
    ca_weight: float
    overlap: float | None


def validate(cfg: DictConfig) -> None:
    """Check a composed job config; raise :class:`ConfigError` on the first key or value srlab cannot run."""
    knobs = _knobs(cfg)
    model = cfg.model
    # Hydra's struct flag stops `model.x=…` but not `+model.x=…`: check the schemas' keys too.
    check_arguments(model, "model", ModelSchema)
    check_arguments(cfg.keep, "keep", KeepSchema)
    from srlab.nets import ARCHS

    if model.arch not in ARCHS:
        raise ConfigError(f"model.arch={model.arch!r} (model={model.name}): expected one of {sorted(ARCHS)}")
    if knobs.scale not in model.scales:
        raise ConfigError(
            f"scale={knobs.scale} is not supported by model={model.name}: allowed {list(model.scales)}"
        )
    check_arguments(model.net, "model.net", ARCHS[model.arch], set_elsewhere=SET_BY_KNOBS)
    for group in ("data", "trainer"):
        if cfg.get(group) is not None:
            check_arguments(cfg[group], group, _target(cfg[group], group))
    if model.arch == "window_sr":
        _check_window_net(cfg, knobs)
    else:
        _check_conv_net(cfg, knobs)


def _knobs(cfg: DictConfig) -> Knobs:
    """The typed top-level knobs (interpolations such as ``window: ${model.default_window}`` resolved)."""
    values = {f.name: _resolved(cfg, f.name) for f in fields(Knobs)}
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Knobs), values))
    except ValidationError as err:
        key = str(err.full_key)
        expected = {f.name: f.type for f in fields(Knobs)}[key]
        raise ConfigError(f"{key}={values[key]!r}: expected {expected}") from None


def _resolved(cfg: DictConfig, key: str) -> Any:
    try:
        return OmegaConf.select(cfg, key, throw_on_missing=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{key}: {str(err).splitlines()[0]}") from None


def _check_conv_net(cfg: DictConfig, knobs: Knobs) -> None:
    """Conv nets (PlainUSR) have no window attention: its knobs must stay at their defaults."""
    model = cfg.model
    unused = {"attn.name": (cfg.attn.name, "dense"), "keep.policy": (cfg.keep.policy, "full"),
              "window": (knobs.window, model.default_window), "ca_weight": (knobs.ca_weight, model.default_ca_weight),
              "overlap": (knobs.overlap, model.default_overlap)}  # fmt: skip
    for key, (value, default) in unused.items():
        if value != default:
            raise ConfigError(
                f"{key}={value} does not apply to model={model.name} (arch {model.arch}, no window attention): "
                f"allowed {default}"
            )


def _check_window_net(cfg: DictConfig, knobs: Knobs) -> None:
    """α, γ, window, the attention mechanism and its keys, K^l, and the window against the data's patch."""
    if knobs.overlap is not None and knobs.overlap < 0:
        raise ConfigError(f"overlap={knobs.overlap}: must be ≥ 0, or null for no OCAB")
    if knobs.ca_weight < 0:
        raise ConfigError(f"ca_weight={knobs.ca_weight}: must be ≥ 0 (0 = no CAB)")
    if knobs.window < 1:
        raise ConfigError(f"window={knobs.window}: must be a positive integer")
    _check_attn(cfg.attn)
    from srlab.nets.keep import resolve_keep

    depths = _resolved(cfg, "model.net.depths")
    try:
        resolve_keep(OmegaConf.to_container(cfg.keep, resolve=True), knobs.window**2, list(depths))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    data = cfg.get("data") or {}
    check_window_fits_patch(knobs.window, data.get("patch_size"), cfg.model.net.get("pad_mode", "reflect"))


def _check_attn(attn: DictConfig) -> None:
    """``attn.name`` is a registered mechanism and the other keys are its own knobs (not the window's)."""
    from srlab import attention

    name = attn.get("name")
    if name not in attention.available():
        raise ConfigError(
            f"attn.name={name!r}: unknown attention; available: {', '.join(attention.available())}"
        )
    mixer = attention.get(name)
    set_by_net = {
        "dim": "model.net.embed_dim"
    }  # WindowSR passes the channels, and to window mixers the window
    if issubclass(mixer, attention.WindowAttention):
        set_by_net |= {p: "model.net" for p in signature(attention.WindowAttention).annotations if p != "dim"}
        set_by_net["window_size"] = "window"
    check_arguments(attn, "attn", mixer, set_elsewhere=set_by_net, extra={"name"})


def _target(node: DictConfig, key: str) -> type:
    """The class a ``_target_`` node instantiates (imported, so its signature can be read)."""
    target = node.get("_target_")
    if target is None:
        raise ConfigError(f"{key}._target_ is missing: {key} is instantiated by Hydra")
    try:
        return get_class(target)
    except (ImportError, ValueError) as err:
        raise ConfigError(f"{key}._target_={target!r}: cannot be imported ({err})") from None


def check_window_fits_patch(window: int, patch: int | None, pad_mode: str) -> None:
    """Training patches are padded to a window multiple; reflect padding needs pad < patch, symmetric ≤."""
    if patch is None:
        return
    pad = (-patch) % window
    limit = {"reflect": patch - 1, "symmetric": patch}.get(pad_mode, pad)
    if pad > limit:
        raise ConfigError(
            f"window={window} cannot be used with data.patch_size={patch}: {pad_mode} padding of a {patch}px patch "
            f"to a multiple of {window} needs {pad}px; use data.patch_size >= {window} (or a multiple of it)"
        )
