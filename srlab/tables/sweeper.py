"""A table's grid as one Hydra multirun: the jobs are the spec's rows × seeds, nothing else.

A table's rows are heterogeneous override sets (``[model=hat_s, scale=2]``, ``[overlap=null, ca_weight=0]``),
not a cartesian product, so the basic sweeper cannot express them without writing the grid a second time.
:class:`hydra_plugins.srlab_tables.table_sweeper.TableSweeper` (``hydra/sweeper=table``, picked by every
``conf/experiment/<table>.yaml``; Hydra loads sweepers from the ``hydra_plugins`` package only) reads the grid
from ``experiments/tables/<table>.yaml`` instead: ``python run.py -m experiment=<table>`` launches every row ×
seed, and ``srlab table run <table> --rows … --seeds N`` the chosen ones. Command-line overrides are the base
every job shares and must not sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser

from srlab.tables.spec import TableSpec, parse_seeds


def select_rows(spec: TableSpec, rows: Sequence[str | int] | None) -> list[int]:
    """Positions of the chosen rows (labels or 0-based positions), in the spec's order.

    None = every row but those marked ``separate`` (their own command, e.g. a fine-tuning stage that starts
    from another row's weights); name such a row to launch it.
    """
    if rows is None:
        return [i for i, row in enumerate(spec.rows) if row.separate is None]
    labels = [r.label for r in spec.rows]
    chosen = set()
    for item in rows:
        if isinstance(item, int) and not isinstance(item, bool):
            if not 0 <= item < len(labels):
                raise ValueError(f"table {spec.name}: row {item} out of range (0 … {len(labels) - 1})")
            chosen.add(item)
        elif str(item) in labels:
            chosen.add(labels.index(str(item)))
        else:
            raise ValueError(f"table {spec.name}: no row {item!r}; rows: {', '.join(map(repr, labels))}")
    return sorted(chosen)


def table_jobs(
    spec: TableSpec,
    rows: Sequence[str | int] | None = None,
    seeds: int | Sequence[int] | None = None,
    arguments: Sequence[str] = (),
) -> list[list[str]]:
    """The overrides of every job of the table, row-major: ``arguments + row overrides + [seed=S]``.

    ``seeds`` replaces the spec's seeds (a count N: seeds 0 … N−1); ``arguments`` (command-line overrides,
    e.g. ``protocol=proxy``) must not sweep: the rows are the grid.
    """
    sweeping = [
        o.input_line
        for o in OverridesParser.create().parse_overrides(list(arguments))
        if o.is_sweep_override()
    ]
    if sweeping:
        raise ValueError(
            f"table {spec.name}: {', '.join(sweeping)} sweeps, but a table's grid is its rows × seeds "
            f"({spec.name}.yaml); add a row to the spec instead"
        )
    chosen = spec.seeds if seeds is None else parse_seeds(seeds, f"table {spec.name}")
    return [
        [*arguments, *spec.rows[i].overrides, f"seed={seed}"]
        for i in select_rows(spec, rows)
        for seed in chosen
    ]


def sweeper_of(experiment_config: Any) -> Any:
    """The sweeper a composed config (``return_hydra_config=True``) would instantiate (for tests and ``srlab check -m``)."""
    from hydra.utils import instantiate

    return instantiate(experiment_config.hydra.sweeper)
