"""srlab entry point: `python run.py [group=option ...] [key=value ...]` (add -m for sweeps).

Examples:
    python run.py                                   # tiny model, dense attention, sample images, CPU
    python run.py debug=fast                        # a train + eval in seconds
    python run.py -m attn=pfa,topk,dense window=16,32
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from srlab.config import register_schemas
from srlab.utils.resolvers import register_resolvers

register_resolvers()
register_schemas()  # structured-config schemas the conf/ groups name in their defaults (/schema/...)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Run one job; returns ``optimized_metric`` (default: the first test set's PSNR-Y) for sweepers that optimise."""
    from srlab.job.objective import objective
    from srlab.logging.console import tidy_console
    from srlab.train import run

    tidy_console()  # one console line per message (Lightning's second handler off), warnings in the log file
    return objective(run(cfg), cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
