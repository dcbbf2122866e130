"""Pre-flight checks: what a valid config would still fail on later, found before any work.

:func:`srlab.config.validate` checks keys and values; these check what they point at and what is left unset:

- ``???`` values the job uses, directly or through an interpolation (``recipe``, ``imagenet_dir`` of a
  pre-training recipe, …), named with the key that needs them;
- weights files (``weights``, ``init_from``, ``ckpt_path``) and the ``resume`` run dir that do not exist;
- data sets the job reads (``data.train``/``val``/``test``) that are not under ``data.root`` in any known
  layout, or ``hr``/``lr`` folders that do not exist;
- an ``optimized_metric`` that is not ``test/<set>/<metric>`` of a set the job tests on.

:func:`missing_values` runs before :func:`~srlab.config.validate` (validation cannot read a ``???``), the
others after it. ``srlab check`` (and every sweep before launching, :mod:`srlab.config.sweep`) and
``srlab.train.run`` run them; every problem is listed, not only the first.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationToMissingValueError, MissingMandatoryValue

from srlab.config.arguments import ConfigError

__all__ = [
    "check_missing_values",
    "check_resources",
    "missing_data_sets",
    "missing_files",
    "missing_values",
]

# Option tables: only the entry the job selects is used (through interpolations that the walk follows).
LOOKUP_TABLES = ("protocol.recipes",)
# Keys naming files (or, for resume, a run dir) the job reads.
FILE_KEYS = ("weights", "init_from", "ckpt_path")
_REFERENCE = re.compile(r"\$\{\.*([\w.]+)\}")  # innermost ${key} (relative dots dropped)


def _references(node: Any, out: set[str]) -> set[str]:
    """Every key named inside an interpolation of ``node``'s raw (unresolved) values."""
    if isinstance(node, DictConfig | ListConfig):
        keys = node.keys() if isinstance(node, DictConfig) else range(len(node))
        for key in keys:
            _references(node._get_node(key), out)
    elif isinstance(node._value(), str):
        out.update(_REFERENCE.findall(node._value()))
    return out


def missing_values(cfg: DictConfig) -> list[str]:
    """``key: …`` for every ``???`` the job uses, one line per unset key (with the keys that need it)."""
    parameters = _references(cfg, set()) - {"hydra"}  # ``???`` keys read through interpolations
    needed: dict[str, list[str]] = {}  # unset key → keys that need it

    def walk(node: DictConfig | ListConfig, path: str) -> None:
        keys = node.keys() if isinstance(node, DictConfig) else range(len(node))
        for key in keys:
            full = f"{path}.{key}" if path else str(key)
            if full == "hydra" or full in LOOKUP_TABLES:
                continue
            try:
                value = node[key]
            except MissingMandatoryValue:
                if full not in parameters:  # a parameter is reported through the keys that use it
                    needed.setdefault(full, [])
                continue
            except InterpolationToMissingValueError:
                raw = str(node._get_node(key)._value())
                targets = [t for t in _REFERENCE.findall(raw) if OmegaConf.is_missing(cfg, t)] or [raw]
                for target in targets:
                    needed.setdefault(target, []).append(full)
                continue
            if isinstance(value, DictConfig | ListConfig):
                walk(value, full)

    walk(cfg, "")
    return [
        f"{key}=??? must be set"
        + (f" (needed by {', '.join(users[:3])}{', …' if len(users) > 3 else ''})" if users else "")
        for key, users in needed.items()
    ]


def missing_files(cfg: DictConfig) -> list[str]:
    """``key=path: …`` for each weights file or ``resume`` dir that is named but does not exist."""
    problems = []
    for key in FILE_KEYS:
        value = cfg.get(key)
        if value in (None, "", "last") or Path(str(value)).is_file():
            continue
        if key == "weights" and cfg.get("mode") == "predict" and Path(str(value)).is_dir():
            continue  # mode=predict takes a run dir too (srlab.nets.loading.build_from_weights)
        problems.append(f"{key}={value}: no such file")
    if cfg.get("resume") and not Path(str(cfg.resume)).is_dir():
        problems.append(f"resume={cfg.resume}: no such run dir")
    return problems


def _set_specs(data: DictConfig, mode: str) -> list[tuple[str, dict[str, Any]]]:
    """(config key, spec) of every data set the job reads: train (mode=train), val, test."""
    specs = []
    if mode == "train" and data.get("train") is not None:
        specs.append(("data.train", OmegaConf.to_container(data.train, resolve=True)))
    for stage in ("val", "test"):
        sets = data.get(stage)
        for name, spec in (OmegaConf.to_container(sets, resolve=True) if sets is not None else {}).items():
            if spec is not None:
                specs.append((f"data.{stage}.{name}", spec))
    return specs


def missing_data_sets(cfg: DictConfig) -> list[str]:
    """``data.<stage>.<name>: …`` for each catalogued set not under ``data.root`` (one line per set, naming
    every key that reads it), and each ``hr``/``lr`` folder that does not exist."""
    from srlab.data.catalog import resolve

    data = cfg.get("data")
    if data is None or data.get("root") is None:
        return []
    absent: dict[tuple[str, bool], list[str]] = {}  # (catalog name, sub-images) → keys
    problems = []
    for key, spec in _set_specs(data, cfg.get("mode", "train")):
        if "catalog" in spec:
            absent.setdefault((spec["catalog"], bool(spec.get("subimages", False))), []).append(key)
        for folder in ("hr", "lr"):
            if spec.get(folder) and not Path(spec[folder]).is_dir():
                problems.append(f"{key}.{folder}={spec[folder]}: no such folder")
    for (name, subimages), keys in absent.items():
        try:
            resolve(name, data.root, cfg.scale, subimages)
        except FileNotFoundError:
            problems.append(
                f"{', '.join(keys)}: {name} (x{cfg.scale}{', sub-images' if subimages else ''}) is not under "
                f"data.root={data.root} in any known layout; run `srlab prepare {name} --root {data.root}`"
            )
    return problems


def unknown_objective(cfg: DictConfig) -> list[str]:
    """``optimized_metric=…: …`` when it is not ``test/<set>/<metric>`` of a set the job tests on (the
    sweeper would learn it only after the first trial has trained)."""
    name = cfg.get("optimized_metric")
    data = cfg.get("data")
    if name is None or data is None:
        return []
    tested = data.get("test") if data.get("test") is not None else data.get("val")
    sets = list(tested.keys()) if tested is not None else []
    stage, _, rest = str(name).partition("/")
    set_name, _, metric = rest.rpartition("/")
    if stage == "test" and set_name in sets and metric:
        return []
    return [
        f"optimized_metric={name}: expected test/<set>/<metric> with <set> one of {sets}, e.g. test/{sets[0] if sets else 'Set5'}/psnr_y"
    ]


def check_missing_values(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` listing every ``???`` the job uses."""
    problems = missing_values(cfg)
    if problems:
        raise ConfigError("; ".join(problems))


def check_resources(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` listing every missing weights file, run dir and data set of a valid config,
    and an ``optimized_metric`` the job will not have."""
    problems = missing_files(cfg) + missing_data_sets(cfg) + unknown_objective(cfg)
    if problems:
        raise ConfigError("; ".join(problems))
