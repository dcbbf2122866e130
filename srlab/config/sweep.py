"""A sweep's jobs, and their validation before the first one runs.

Hydra's basic sweeper composes every job of a batch before launching it, which catches unknown keys and
wrong types; :class:`ValidateSweep` (a Hydra callback, ``conf/hydra/default.yaml``) also runs
:func:`srlab.config.validate` on every job of the grid at multirun start, so a bad value in job 37 stops
the sweep before job 1 takes a GPU-day. ``srlab check -m`` runs the same check without launching.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from srlab.config.arguments import ConfigError
from srlab.config.validate import validate


def sweep_jobs(params: Mapping[str, str] | None, arguments: Sequence[str]) -> list[list[str]]:
    """The overrides of every job the basic sweeper launches for ``hydra.sweeper.params`` + ``arguments``, in order."""
    lines = [f"{key}={value}" for key, value in (params or {}).items()] + list(arguments)
    overrides = OverridesParser.create().parse_overrides(lines)
    return [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]


def fixed_overrides(arguments: Sequence[str]) -> list[str]:
    """The arguments that are not sweeps (``window=8`` but not ``window=8,16``): the base every job shares."""
    parsed = OverridesParser.create().parse_overrides(list(arguments))
    return [o.input_line for o in parsed if not o.is_sweep_override()]


def check_jobs(jobs: Sequence[Sequence[str]], compose: Callable[[list[str]], DictConfig]) -> list[str]:
    """``"<overrides>: <error>"`` for each job whose config fails to compose or validate (empty: all valid)."""
    errors = []
    for job in jobs:
        try:
            validate(compose(list(job)))
        except (ConfigCompositionException, ConfigError) as err:
            reason = " ".join(str(err).split())  # one line per job
            errors.append(f"{' '.join(job) or '(no overrides)'}: {reason}")
    return errors


class ValidateSweep(Callback):
    """Validate every job of a basic-sweeper grid at multirun start; any invalid job stops the whole sweep.

    Hydra turns a callback's exceptions into warnings, so an invalid grid exits the process (``SystemExit``,
    status 1, the bad jobs on stderr) as a command-line error does. Other sweepers (Optuna, Ax) choose
    their jobs as they go: those are validated one by one, first thing in ``srlab.train.run``.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not config.hydra.sweeper._target_.endswith(".BasicSweeper"):
            return
        jobs = sweep_jobs(config.hydra.sweeper.get("params"), list(config.hydra.overrides.task))
        loader = GlobalHydra.instance().config_loader()
        errors = check_jobs(jobs, lambda job: loader.load_sweep_config(config, job))
        if errors:
            raise SystemExit(
                f"{len(errors)} of {len(jobs)} sweep jobs are invalid, none was launched:\n  "
                + "\n  ".join(errors)
            )
