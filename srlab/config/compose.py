"""Compose a job config outside a run, and turn a composed config into the network spec.

Used by every ``srlab`` command (``check``, ``flops``, ``table``), the benchmarks, the notebooks and the
job driver (``srlab.train``), so none of them imports the driver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from srlab.config.knobs import read_knobs
from srlab.config.schema import register_schemas
from srlab.config.validate import validate
from srlab.utils.resolvers import register_resolvers

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def compose_config(
    overrides: list[str], *, check: bool = True, return_hydra_config: bool = False
) -> DictConfig:
    """The job config ``run.py`` would compose for ``overrides``, outside a run (for ``srlab`` commands).

    ``check``: validate it (:func:`srlab.config.validate.validate`); ``return_hydra_config``: keep the
    ``hydra`` node.
    """
    from hydra import compose, initialize_config_dir

    if not (CONF_DIR / "config.yaml").is_file():
        raise FileNotFoundError(f"srlab's configs are not at {CONF_DIR}: run from a clone of the repository")
    register_resolvers()
    register_schemas()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR), job_name="srlab"):
        cfg = compose("config", overrides=overrides, return_hydra_config=return_hydra_config)
    if check:
        validate(cfg)
    return cfg


def model_spec(cfg: DictConfig) -> dict[str, Any]:
    """The network spec of ``cfg``: the preset's ``model.net`` with the knobs its architecture takes.

    Assembles only, as the architecture's registry entry says (:meth:`srlab.nets.registry.Arch.spec`);
    the rules are :func:`srlab.config.validate.validate`'s, which ``compose_config`` and every job apply
    first.
    """
    from srlab.nets import get_arch  # torch: imported when a spec is built, not when a config is composed

    net = OmegaConf.to_container(cfg.model.net, resolve=True)
    return get_arch(cfg.model.arch).spec(net, read_knobs(cfg))
