"""Check a config node against the signature of what it configures: its keys, and the types of its values.

The schema of ``attn`` (a mechanism's knobs), ``model.net``, ``data`` and ``trainer`` is the constructor they
are passed to, so a new mixer argument or Trainer option is accepted without editing a dataclass here.
Values are type-checked by OmegaConf itself, through a dataclass made from the annotations it can read
(``int``, ``float``, ``bool``, ``str``, their optionals); ``Literal`` choices (Trainer's ``precision``) are
checked by membership; anything else is accepted as is.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, make_dataclass
from typing import Any, Literal, Union

from hydra.errors import CompactHydraException
from omegaconf import MISSING, DictConfig, OmegaConf, ValidationError

HYDRA_KEYS = frozenset({"_target_", "_convert_", "_recursive_", "_partial_", "_args_"})
_SCALARS = (int, float, bool, str)


class ConfigError(CompactHydraException, ValueError):
    """A key or value srlab cannot run with; the message names the key, the value and what is allowed.

    A ``CompactHydraException``, so ``run.py`` prints the message alone (no traceback); a ``ValueError``,
    so callers that catch bad input (``srlab`` commands) catch it too.
    """


@dataclass
class Signature:
    """What a callable accepts by keyword: annotations (``Any`` when unreadable), the required ones, ``**kwargs``."""

    annotations: dict[str, Any]
    required: set[str]
    var_kw: bool


def signature(target: Callable[..., Any]) -> Signature:
    """The keyword-passable arguments of ``target`` (a class: its constructor's)."""
    params = inspect.signature(target).parameters.values()
    try:
        hints = typing.get_type_hints(target.__init__ if isinstance(target, type) else target)
    except (NameError, TypeError):  # annotations naming types only imported for type checkers
        hints = {}
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return Signature(
        annotations={p.name: hints.get(p.name, Any) for p in params if p.kind in kinds},
        required={p.name for p in params if p.kind in kinds and p.default is inspect.Parameter.empty},
        var_kw=any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params),
    )


def _members(annotation: Any) -> tuple[Any, ...]:
    """The members of a union (``X | None``, ``Optional[X]``), else the annotation alone."""
    return (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (Union, types.UnionType)
        else (annotation,)
    )


def _literal_choices(annotation: Any) -> list[Any] | None:
    """The allowed values when ``annotation`` is made of ``Literal``s (and ``None``) only, else None."""
    members = _members(annotation)
    if not all(typing.get_origin(m) is Literal or m is type(None) for m in members):
        return None
    return [v for m in members for v in (typing.get_args(m) if m is not type(None) else (None,))]


def _omegaconf_type(annotation: Any) -> Any:
    """The annotation as an OmegaConf field type: a scalar or an optional scalar, else ``Any``."""
    if annotation in _SCALARS:
        return annotation
    members = [m for m in _members(annotation) if m is not type(None)]
    if len(members) == 1 and members[0] in _SCALARS and len(_members(annotation)) == 2:
        return members[0] | None
    return Any


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def check_arguments(
    node: DictConfig,
    key: str,
    target: Callable[..., Any],
    *,
    set_elsewhere: Mapping[str, str] | None = None,
    extra: Collection[str] = (),
) -> None:
    """Every key of ``node`` (at config path ``key``) is an argument of ``target`` with a value of its type.

    ``set_elsewhere``: arguments srlab passes itself → the config key they come from (an error here); ``extra``: keys that are not
    arguments but belong to the node (``attn.name``). Interpolations are not resolved: their targets are
    checked where they are defined.
    """
    sig = signature(target)
    set_elsewhere = set_elsewhere or {}
    params = sig.annotations
    allowed = sorted((set(params) - set(set_elsewhere)) | set(extra))
    raw = OmegaConf.to_container(node, resolve=False)
    what = getattr(target, "__qualname__", str(target))
    for name, value in raw.items():
        if name in HYDRA_KEYS or name in extra:
            continue
        if name in set_elsewhere:
            raise ConfigError(
                f"{key}.{name}={value!r}: set by `{set_elsewhere[name]}`, not by {key}; allowed keys: {', '.join(allowed)}"
            )
        if name not in params and not sig.var_kw:
            raise ConfigError(
                f"{key}.{name}={value!r}: {what} takes no {name!r}; allowed keys: {', '.join(allowed)}"
            )
    missing = sorted(sig.required - set(raw) - set(set_elsewhere))
    if missing:
        raise ConfigError(
            f"{key}: {what} needs {', '.join(missing)}; the node has {', '.join(sorted(raw)) or 'no keys'}"
        )
    checked = {
        name: v for name, v in raw.items() if name in params and not OmegaConf.is_interpolation(node, name)
    }
    for name, value in checked.items():
        choices = _literal_choices(params[name])
        if choices is not None and value not in choices:
            raise ConfigError(f"{key}.{name}={value!r}: expected one of {choices}")
    fields = [(name, _omegaconf_type(params[name]), field(default=MISSING)) for name in checked]
    schema = OmegaConf.structured(make_dataclass(f"{what}_arguments", fields))
    try:
        OmegaConf.merge(schema, checked)
    except ValidationError as err:
        name = str(err.full_key).split(".")[0].split("[")[0]
        expected = _type_name(params.get(name, Any))
        raise ConfigError(f"{key}.{name}={checked.get(name)!r}: expected {expected} ({what})") from None
