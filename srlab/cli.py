"""The ``srlab`` command: ``prepare`` (data sets), ``check`` (validate configs), ``flops`` (params, MACs,
sparsity), ``table`` (paper tables), ``runs`` (run tables), ``upscale`` (super-resolve one's own images).

``srlab flops`` takes the same ``group=option key=value`` overrides as ``run.py`` plus
``input=<width>x<height>`` (LR size), e.g. ``srlab flops model=pft_light attn=pfa input=640x360``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omegaconf import DictConfig

USAGE = """usage: srlab <command> [args]

commands:
  prepare   download / ingest a data set into the canonical layout (srlab prepare --help)
  check     compose and validate a job without running it, and find what it would fail on later (??? values,
            missing weights files, data sets not under data.root); -m: every job of the sweep (its grid, a
            table's rows × seeds, an Optuna search space); --config-only: skip files and data:
            srlab check [-m] [--config-only] [overrides ...]
  flops     params, MACs and attention sparsity of a config:
            srlab flops [overrides ...] [input=<width>x<height>]   (default input=64x64)
  table     a paper table, the paper's values beside ours (srlab table --help); srlab table run NAME
            launches its rows × seeds; srlab table NAME --plan says what is done / running / missing
  runs      a Markdown table of the runs (summary.json files) below a folder: srlab runs DIR
  upscale   super-resolve image files, folders or globs with an srlab run or an official checkpoint:
            srlab upscale INPUT [INPUT ...] -w WEIGHTS [-o DIR] (srlab upscale --help)
  lam       Local Attribution Map and diffusion index of networks for one SR box (srlab lam --help);
            srlab lam record DIR: the DI of finished runs (their test sets' probes) into their summary.json
"""


def parse_size(text: str) -> tuple[int, int]:
    """``"640x360"`` (width × height, as image sizes are written) → (h, w) = (360, 640)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"input={text!r}: expected <width>x<height>, e.g. input=640x360") from None
    if width < 1 or height < 1:
        raise ValueError(f"input={text!r}: width and height must be positive")
    return height, width


def check(argv: list[str]) -> int:
    """Compose and validate one job, or with ``-m`` every job of the sweep; print OK or each bad job."""
    from hydra.core.hydra_config import HydraConfig

    from srlab.config.compose import compose_config
    from srlab.config.sweep import check_jobs, fixed_overrides, sweeper_jobs

    def compose_job(job: list[str]) -> DictConfig:
        cfg = compose_config(job, check=False, return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)  # paths.* resolve as in a run (${hydra:runtime.cwd})
        return cfg

    overrides = [a for a in argv if a not in ("-m", "--multirun", "--config-only")]
    multirun = any(a in ("-m", "--multirun") for a in argv)
    jobs = [overrides]
    if multirun:
        composed = compose_config(fixed_overrides(overrides), check=False, return_hydra_config=True)
        if composed.hydra.sweeper._target_.endswith(".TableSweeper"):  # a table's rows × seeds
            from srlab.tables.sweeper import sweeper_of

            jobs, notes = sweeper_of(composed).jobs(overrides), []
        else:
            jobs, notes = sweeper_jobs(composed.hydra.sweeper, overrides)
        print("\n".join(notes), end="\n" if notes else "")
    errors = check_jobs(jobs, compose_job, files_and_data="--config-only" not in argv)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print(f"srlab check: {len(errors)} of {len(jobs)} jobs invalid", file=sys.stderr)
        return 2
    print(f"OK: {len(jobs)} job{'s' if len(jobs) > 1 else ''} compose and validate")
    return 0


def flops(argv: list[str]) -> int:
    """Print params, MACs and per-layer keep/similarity counts of the composed config."""
    from srlab.config.compose import compose_config, model_spec
    from srlab.nets import build_net, count_params, net_cost

    size = next((a.split("=", 1)[1] for a in argv if a.startswith("input=")), "64x64")
    lr_size = parse_size(size)
    cfg = compose_config([a for a in argv if not a.startswith("input=")])
    spec = model_spec(cfg)
    cost = net_cost(spec, lr_size)
    print(
        f"model={cfg.model.name} attn={cfg.attn.name} window={cfg.window} scale={cfg.scale} input={size} (w×h, LR)"
    )
    print(f"params          {count_params(build_net(spec)):,}")
    print(f"MACs            {cost.macs / 1e9:,.2f} G")
    if cost.kept:
        print(
            f"similarity MACs {cost.similarity_macs / 1e9:,.3f} G ({cost.similarity_fraction:.3f} of dense)"
        )
        print("layer  similarities/query  kept/query")
        for i, (s, k) in enumerate(zip(cost.similarities, cost.kept, strict=True)):
            print(f"{i:5d}  {s:18d}  {k:10d}")
    return 0


def upscale(argv: list[str]) -> int:
    """``srlab upscale``: 0 when every image was written (or skipped as existing), 1 when some failed."""
    import argparse
    import logging

    from srlab.inference.upscale import DEFAULT_OUTPUT, PRECISIONS, Options
    from srlab.inference.upscale import upscale as run_upscale

    parser = argparse.ArgumentParser(
        prog="srlab upscale",
        description="Super-resolve images with an srlab run (dir, .ckpt, net_ema.pth) or an official "
        "PFT/HAT/SwinIR/PlainUSR checkpoint. Exit code 0: all images done; 1: some failed (named on "
        "stderr); 2: usage, weights or config error.",
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="image files, folders (recursive) or globs"
    )
    parser.add_argument(
        "-w", "--weights", required=True, help="srlab run dir, .ckpt, .pth or official checkpoint"
    )
    parser.add_argument(
        "-o",
        "--output",
        help=f"output folder (default: {DEFAULT_OUTPUT}/ in the weights' run dir, else here)",
    )
    parser.add_argument("--tile", type=int, help="LR tile side in px (default: whole images)")
    parser.add_argument("--tile-overlap", type=int, default=32, help="LR px shared by neighbouring tiles")
    parser.add_argument("--self-ensemble", action="store_true", help="average the 8 flips/transposes")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, … (default: cuda when available)")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="bf16: autocast")
    parser.add_argument("--suffix", help="output name suffix (default: _x<scale>)")
    parser.add_argument("--skip-existing", action="store_true", help="keep outputs that exist (resume a run)")
    args = parser.parse_args(argv)
    logging.basicConfig(format="srlab upscale: %(message)s", level=logging.INFO)
    options = Options(args.tile, args.tile_overlap, args.self_ensemble, args.device, args.precision)
    report = run_upscale(
        args.inputs, args.weights, args.output, options=options, suffix=args.suffix,
        skip_existing=args.skip_existing,
    )  # fmt: skip
    print(report.summary())
    for image, reason in report.failed:
        print(f"srlab upscale: failed: {image}: {reason}", file=sys.stderr)
    return 1 if report.failed else 0


def lam(argv: list[str]) -> int:
    """``srlab lam``: LAM picture and DI (:mod:`srlab.analysis.cli`); ``srlab lam record DIR``: DI into run summaries."""
    if argv and argv[0] == "record":
        from srlab.analysis.record import lam_record_cli

        return lam_record_cli(argv[1:])
    from srlab.analysis.cli import lam_cli

    return lam_cli(argv)


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``srlab <command>``; errors print one line and exit 2."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "prepare":
            from srlab.data.prepare import cli

            return cli(rest)
        if command == "check":
            return check(rest)
        if command == "flops":
            return flops(rest)
        if command == "table":
            from srlab.tables.cli import table

            return table(rest)
        if command == "upscale":
            return upscale(rest)
        if command == "runs":
            from srlab.results import find_summaries
            from srlab.runs import runs_table

            if len(rest) != 1:
                raise ValueError("usage: srlab runs DIR")
            print(runs_table(find_summaries(rest[0])))
            return 0
        if command == "lam":
            return lam(rest)
    except (ValueError, FileNotFoundError) as err:
        print(f"srlab {command}: {err}", file=sys.stderr)
        return 2
    print(f"srlab: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
