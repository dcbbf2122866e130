"""Compose-time validation of a job config: every rule that can fail before data or model work, in one place.

:func:`validate` runs in :func:`srlab.config.compose.compose_config` (``srlab check``/``flops``/``table``),
first thing in every job (``srlab.train.run``, also a sweep's) and on a whole sweep grid before it launches
(:mod:`srlab.config.sweep`). Each failure is a :class:`ConfigError` whose message names the key, the value
and what is allowed. What an architecture takes and its value rules come from its registry entry
(:class:`srlab.nets.registry.Arch`); this module applies them and adds the config-level rules (schemas,
unused knobs, the window against the training patch). Cheap rules run first; the signature checks import
the mixer, network, data module and Trainer classes they check against.
"""

from __future__ import annotations

from typing import Any

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from srlab.config.arguments import ConfigError, check_arguments
from srlab.config.knobs import read_knobs, resolved, typed_knobs
from srlab.config.schema import KeepSchema, ModelSchema

__all__ = ["ConfigError", "check_window_fits_patch", "validate"]


def validate(cfg: DictConfig) -> None:
    """Check a composed job config; raise :class:`ConfigError` on the first key or value srlab cannot run."""
    typed_knobs(cfg)
    model = cfg.model
    # Hydra's struct flag stops `model.x=…` but not `+model.x=…`: check the schemas' keys too.
    check_arguments(model, "model", ModelSchema)
    check_arguments(cfg.keep, "keep", KeepSchema)
    from srlab.nets import get_arch

    try:
        arch = get_arch(model.arch)
    except ValueError as err:
        raise ConfigError(f"{err} (model={model.name})") from None
    knobs = read_knobs(cfg)
    if knobs.scale not in model.scales:
        raise ConfigError(
            f"scale={knobs.scale} is not supported by model={model.name}: allowed {list(model.scales)}"
        )
    check_arguments(model.net, "model.net", arch.cls, set_elsewhere=arch.set_by_knobs)
    for group in ("data", "trainer"):
        if cfg.get(group) is not None:
            check_arguments(cfg[group], group, _target(cfg[group], group))
    _check_unused_knobs(cfg, arch.takes, arch.name)
    if "attn" in arch.takes:
        _check_attn(cfg.attn, arch.mixer_arguments)
    try:
        arch.check(OmegaConf.to_container(model.net, resolve=True), knobs)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if "window" in arch.takes:
        data = cfg.get("data") or {}
        check_window_fits_patch(knobs.window, data.get("patch_size"), model.net.get("pad_mode", "reflect"))


def _check_unused_knobs(cfg: DictConfig, takes: Any, arch: str) -> None:
    """A knob the architecture does not take must stay at the preset's default (it would do nothing)."""
    model = cfg.model
    defaults = {"attn": ("attn.name", cfg.attn.name, "dense"), "keep": ("keep.policy", cfg.keep.policy, "full"),
                "window": ("window", resolved(cfg, "window"), model.default_window),
                "ca_weight": ("ca_weight", resolved(cfg, "ca_weight"), model.default_ca_weight),
                "overlap": ("overlap", resolved(cfg, "overlap"), model.default_overlap)}  # fmt: skip
    for knob, (key, value, default) in defaults.items():
        if knob not in takes and value != default:
            raise ConfigError(
                f"{key}={value} does not apply to model={model.name} (arch {arch} does not take `{knob}`): "
                f"allowed {default}"
            )


def _check_attn(attn: DictConfig, mixer_arguments: Any) -> None:
    """``attn.name`` is a registered mechanism and the other keys are its own knobs (not the network's)."""
    from srlab import attention

    name = attn.get("name")
    if name not in attention.available():
        raise ConfigError(
            f"attn.name={name!r}: unknown attention; available: {', '.join(attention.available())}"
        )
    mixer = attention.get(name)
    check_arguments(attn, "attn", mixer, set_elsewhere=mixer_arguments(mixer), extra={"name"})


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
