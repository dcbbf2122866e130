"""A sweep's jobs, and their validation before the first one runs.

Hydra's basic sweeper composes every job of a batch before launching it, which catches unknown keys and
wrong types; :class:`ValidateSweep` (a Hydra callback, ``conf/hydra/default.yaml``) also runs
:func:`srlab.config.validate` on every job of the grid at multirun start, so a bad value in job 37 stops
the sweep before job 1 takes a GPU-day. An Optuna search space (``choice``/``range``/``interval``, as in
``conf/hparams_search/``) is covered the same way, each interval at its two ends. ``srlab check -m`` runs the
same check without launching.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep
from hydra.errors import ConfigCompositionException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from srlab.config.arguments import ConfigError
from srlab.config.preflight import check_missing_values, check_resources
from srlab.config.validate import validate

log = logging.getLogger(__name__)


def sweep_jobs(params: Mapping[str, str] | None, arguments: Sequence[str]) -> list[list[str]]:
    """The overrides of every job the basic sweeper launches for ``hydra.sweeper.params`` + ``arguments``, in order."""
    lines = [f"{key}={value}" for key, value in (params or {}).items()] + list(arguments)
    overrides = OverridesParser.create().parse_overrides(lines)
    return [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]


def search_space_jobs(
    params: Mapping[str, str] | None, arguments: Sequence[str]
) -> tuple[list[list[str]], list[str]]:
    """Jobs that cover a sampling sweeper's search space (Optuna: ``choice``, ``range``, ``interval``, ``tag``).

    Every ``choice``/``range`` value is a job dimension, as in the basic sweeper's grid; an ``interval`` is
    checked at its two ends (the values between are not enumerable). A key given twice takes its last value
    (the command line's over the preset's). Returns the jobs and one note per interval saying so.
    """
    lines: dict[str, str] = {}  # per key: the command line's value replaces the preset's, as Optuna does
    notes = []
    for override in OverridesParser.create().parse_overrides(
        [f"{key}={value}" for key, value in (params or {}).items()] + list(arguments)
    ):
        key, value = override.get_key_element(), override.value()
        if isinstance(value, IntervalSweep):
            lines[key] = f"{key}={value.start!r},{value.end!r}"
            notes.append(f"{override.input_line}: checked at its ends {value.start!r} and {value.end!r}")
        else:
            lines[key] = override.input_line
    return sweep_jobs(None, list(lines.values())), notes


def sweeper_jobs(sweeper: DictConfig, arguments: Sequence[str]) -> tuple[list[list[str]], list[str]]:
    """The jobs to validate for ``hydra.sweeper`` (basic: its grid; Optuna: :func:`search_space_jobs`), and
    notes on what could not be enumerated. Other sweepers: no jobs, one note."""
    target = sweeper._target_
    if target.endswith(".BasicSweeper"):
        return sweep_jobs(sweeper.get("params"), arguments), []
    if target.endswith(".OptunaSweeper"):
        return search_space_jobs(sweeper.get("params"), arguments)
    return [], [f"hydra.sweeper {target}: its jobs are validated one by one when they start"]


def fixed_overrides(arguments: Sequence[str]) -> list[str]:
    """The arguments that are not sweeps (``window=8`` but not ``window=8,16``): the base every job shares."""
    parsed = OverridesParser.create().parse_overrides(list(arguments))
    return [o.input_line for o in parsed if not o.is_sweep_override()]


def check_jobs(
    jobs: Sequence[Sequence[str]], compose: Callable[[list[str]], DictConfig], files_and_data: bool = True
) -> list[str]:
    """``"<overrides>: <error>"`` for each job whose config fails to compose, has a ``???`` it uses, fails
    validation or (``files_and_data``) names weights, run dirs or data sets that are not there."""
    errors = []
    for job in jobs:
        try:
            cfg = compose(list(job))
            check_missing_values(cfg)
            validate(cfg)
            if files_and_data:
                check_resources(cfg)
        except (ConfigCompositionException, ConfigError) as err:
            reason = " ".join(str(err).split())  # one line per job
            errors.append(f"{' '.join(job) or '(no overrides)'}: {reason}")
    return errors


class ValidateSweep(Callback):
    """Validate every job of a sweep at multirun start; any invalid job stops the whole sweep.

    The basic sweeper's whole grid; Optuna's search space as :func:`search_space_jobs` covers it (each
    choice, each interval at its ends, logged). Hydra turns a callback's exceptions into warnings, so an
    invalid job exits the process (``SystemExit``, status 1, the bad jobs on stderr) as a command-line error
    does. Every job is validated again when it starts (``srlab.train.run``), whatever the sweeper chose.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        jobs, notes = sweeper_jobs(config.hydra.sweeper, list(config.hydra.overrides.task))
        for note in notes:
            log.info("sweep validation: %s", note)
        loader = GlobalHydra.instance().config_loader()

        def compose(job: list[str]) -> DictConfig:
            cfg = loader.load_sweep_config(config, job)
            HydraConfig.instance().set_config(cfg)  # paths.* resolve as in the job (${hydra:runtime.cwd})
            return cfg

        try:
            errors = check_jobs(jobs, compose)
        finally:
            HydraConfig.instance().set_config(config)
        if errors:
            raise SystemExit(
                f"{len(errors)} of {len(jobs)} sweep jobs are invalid, none was launched:\n  "
                + "\n  ".join(errors)
            )
