"""``srlab lam record DIR``: the DI of finished runs that were trained without ``lam.enabled``, into their summaries.

LAM at test time costs minutes per run on a CPU, so a study may train first and measure DI afterwards, on
the runs it keeps. Each run is measured as its own test would have measured it: its EMA weights, its
test sets (the config's ``data``), its ``lam`` node (probes, window, fold, σ₀, crop), whatever its
``enabled``. ``summary.json`` is rewritten atomically with ``lam`` filled in; copies of reused runs
(``reused_from`` set) are skipped, their original is measured.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

import hydra
from omegaconf import OmegaConf

from srlab.analysis.probes import lam_of_test_sets
from srlab.results import RunSummary, read_summary, write_summary

__all__ = ["lam_record_cli", "record_lam"]


def record_lam(run_dir: Path, summary: RunSummary) -> RunSummary:
    """``summary`` with ``lam`` measured on the run's EMA network and test sets (the run dir holds its weights)."""
    from srlab.nets.loading import build_from_weights

    missing = [key for key in ("data", "lam", "scale") if key not in summary.config]
    if missing:
        raise ValueError(f"{run_dir / 'summary.json'}: its config has no {', '.join(missing)} (a run of an older srlab "
                         "or not a run.py job); measure it with `srlab lam -w` instead")  # fmt: skip
    net = build_from_weights(str(run_dir)).net
    config = OmegaConf.create(summary.config)
    datamodule = hydra.utils.instantiate(config.data, _convert_="all")
    datamodule.prepare_data()  # the sample photos, written once under data.root
    datamodule.setup("test")
    sets = dict(zip(datamodule.test_names, datamodule.test_sets, strict=True))
    options = OmegaConf.to_container(config.lam, resolve=True)
    summary.lam = lam_of_test_sets(options, net, sets, int(config.scale), force=True)
    return summary


def _todo(folder: Path, force: bool) -> Iterator[tuple[Path, RunSummary | None, str]]:
    """Each summary below ``folder``: (path, summary to measure or None, why it is skipped)."""
    for path in sorted(folder.rglob("summary.json")):
        summary = read_summary(path)
        if summary.reused_from is not None:
            yield path, None, f"reuses {summary.reused_from}"
        elif summary.lam is not None and not force:
            yield path, None, f"has DI {summary.lam['di_mean']:.2f} (--force to measure again)"
        elif summary.mode != "train" or not (path.parent / "net_ema.pth").is_file():
            yield path, None, "no net_ema.pth (not a finished training run)"
        else:
            yield path, summary, ""


def lam_record_cli(argv: list[str]) -> int:
    """Run ``srlab lam record DIR [--force]``: print each run's mean DI and the seconds it took."""
    parser = argparse.ArgumentParser(prog="srlab lam record", description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="folder searched (any depth) for run dirs with summary.json")
    parser.add_argument("--force", action="store_true", help="measure runs that already have a DI again")
    args = parser.parse_args(argv)
    if not args.runs.is_dir():
        raise FileNotFoundError(f"{args.runs}: not a folder")
    measured = 0
    for path, summary, why in _todo(args.runs, args.force):
        if summary is None:
            print(f"skip  {path.parent}: {why}")
            continue
        start = time.perf_counter()
        summary = record_lam(path.parent, summary)
        write_summary(path, summary)
        measured += 1
        print(f"DI {summary.lam['di_mean']:6.2f}  {path.parent}  ({time.perf_counter() - start:.0f} s)")
    print(f"{measured} run(s) measured")
    return 0
