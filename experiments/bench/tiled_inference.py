"""Peak memory and wall time of PFT-light ×2 on a DIV2K-size image on the CPU: tiled vs untiled.

    python experiments/bench/tiled_inference.py [--tile 128] [--overlap 32] [--crops 64 96 128 160]
        [--threads 1] [--lr 678 1020] [--out experiments/bench/results]

The image is DIV2K's size by default, HR 2040×1356 (LR 1020×678, ×2; ``--lr`` for a smoke run). Every
measurement runs in a fresh Python process, so its ``ru_maxrss`` is that measurement's own peak resident
memory (the baseline, taken after building the network and the input, is reported too). Cases:

- ``untiled`` on square LR crops (``--crops``): the peak of one network call on that many pixels. They
  also give the peak of one tile of that side, and a straight-line fit of peak RSS against the padded LR
  pixels predicts the untiled full image, which is run only if the prediction is below
  ``--max-untiled-gb`` and half the machine's available memory (a shared machine must not be driven OOM).
- ``tiled`` on the full LR image with ``eval.tile=--tile``, ``eval.tile_overlap=--overlap``.

Weights are random (seed 0) and the LR is uniform noise: memory and time do not depend on either (PFA's
top-k indices depend on the content, their number does not). Wall times on a shared CPU are indicative.
Writes ``tiled_inference.json`` and ``tiled_inference.md`` to ``--out`` after every measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCALE = 2
LR_SIZE = (1356 // SCALE, 2040 // SCALE)  # DIV2K's HR (H, W) = (1356, 2040)
MODEL = ["model=pft_light", f"scale={SCALE}"]


def _maxrss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(case: dict[str, Any]) -> dict[str, Any]:
    """One measurement in this (fresh) process: build PFT-light, super-resolve one LR image, report peaks."""
    import torch

    from srlab.config.compose import compose_config, model_spec
    from srlab.inference.tiling import super_resolve, tile_spans
    from srlab.nets import build_net

    torch.set_num_threads(case["threads"])
    torch.manual_seed(0)
    net = build_net(model_spec(compose_config(MODEL))).eval()
    h, w = case["lr"]
    lr = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    base = _maxrss_mb()
    start = time.perf_counter()
    with torch.inference_mode():
        sr = super_resolve(net, lr, SCALE, case["tile"], case["overlap"])
    wall = time.perf_counter() - start
    tiles = 1
    if case["tile"] is not None:
        align = net.window_size
        tiles = len(tile_spans(h, case["tile"], case["overlap"], align)) * len(
            tile_spans(w, case["tile"], case["overlap"], align)
        )
    return {
        **case,
        "tiles": tiles,
        "sr_shape": list(sr.shape),
        "sr_finite": bool(torch.isfinite(sr).all()),
        "baseline_rss_mb": round(base, 1),
        "peak_rss_mb": round(_maxrss_mb(), 1),
        "wall_s": round(wall, 2),
    }


def _run_case(case: dict[str, Any]) -> dict[str, Any]:
    """:func:`measure` in a fresh interpreter (its own ``ru_maxrss``), one thread count for OpenMP too."""
    env = {**os.environ, "OMP_NUM_THREADS": str(case["threads"]), "MKL_NUM_THREADS": str(case["threads"])}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(case)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"case {case} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _padded_pixels(h: int, w: int, window: int = 32) -> int:
    """LR pixels after PFT's padding to a window multiple."""
    return -(-h // window) * window * (-(-w // window) * window)


def _fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares line ``peak_mb = a + b · pixels``."""
    n = len(points)
    mx = sum(p for p, _ in points) / n
    my = sum(m for _, m in points) / n
    b = sum((p - mx) * (m - my) for p, m in points) / sum((p - mx) ** 2 for p, _ in points)
    return my - b * mx, b


def _available_mb() -> float:
    """``MemAvailable`` of /proc/meminfo, MiB (inf where there is no /proc)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("inf")


def _machine() -> dict[str, Any]:
    import torch

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_available_mb_at_start": round(_available_mb()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "git_sha": sha.stdout.strip(),
    }


def _markdown(report: dict[str, Any]) -> str:
    lr_h, lr_w = report["lr_size"]
    lines = [
        f"# Tiled inference: PFT-light ×{SCALE}, HR {lr_w * SCALE}×{lr_h * SCALE} (LR {lr_w}×{lr_h}), CPU",
        "",
        f"{report['machine']['cpu']}, {report['threads']} thread(s), torch {report['machine']['torch']}, "
        f"git {report['machine']['git_sha']}. Random weights (seed 0), uniform-noise LR. Each row is a fresh "
        "process; peak = `ru_maxrss`; baseline = after building the net and the input. The CPU was shared "
        "with other jobs: wall times are indicative only.",
        "",
        "| case | LR (h×w) | tile / overlap | tiles | peak RSS (MiB) | baseline (MiB) | wall (s) |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        tiling = "—" if r["tile"] is None else f"{r['tile']} / {r['overlap']}"
        lines.append(
            f"| {r['name']} | {r['lr'][0]}×{r['lr'][1]} | {tiling} | {r['tiles']} | {r['peak_rss_mb']:.0f} "
            f"| {r['baseline_rss_mb']:.0f} | {r['wall_s']:.1f} |"
        )
    fit = report.get("untiled_fit")
    if fit:
        lines += [
            "",
            f"Untiled peak RSS ≈ {fit['intercept_mb']:.0f} MiB + {fit['mb_per_kpixel']:.2f} MiB per 1000 "
            f"padded LR pixels (fit on the crops) → full image ({fit['full_padded_pixels']} padded LR pixels): "
            f"**≈ {fit['predicted_full_mb'] / 1024:.1f} GiB**; {fit['full_untiled']}.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tile", type=int, default=128, help="eval.tile of the tiled run (LR px)")
    parser.add_argument("--overlap", type=int, default=32, help="eval.tile_overlap (LR px)")
    parser.add_argument(
        "--crops", type=int, nargs="*", default=[64, 96, 128, 160], help="untiled LR crop sides"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lr", type=int, nargs=2, default=LR_SIZE, metavar=("H", "W"), help="full LR size")
    parser.add_argument("--max-untiled-gb", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "bench" / "results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(json.loads(args.worker))))
        return {}

    lr_size = tuple(args.lr)
    report: dict[str, Any] = {"lr_size": list(lr_size), "scale": SCALE, "threads": args.threads}
    report["machine"], report["results"] = _machine(), []
    args.out.mkdir(parents=True, exist_ok=True)

    def record(name: str, lr: tuple[int, int], tile: int | None) -> None:
        case = {"name": name, "lr": list(lr), "tile": tile, "overlap": args.overlap, "threads": args.threads}
        result = _run_case(case)
        report["results"].append(result)
        print(json.dumps(result), flush=True)
        (args.out / "tiled_inference.json").write_text(json.dumps(report, indent=2) + "\n")
        (args.out / "tiled_inference.md").write_text(_markdown(report))

    for side in args.crops:
        record("untiled crop", (side, side), None)
    if len(args.crops) >= 2:
        a, b = _fit([(_padded_pixels(*r["lr"]), r["peak_rss_mb"]) for r in report["results"]])
        full_px = _padded_pixels(*lr_size)
        predicted = a + b * full_px
        limit = min(args.max_untiled_gb * 1024, _available_mb() / 2)
        fits = predicted < limit
        report["untiled_fit"] = {
            "intercept_mb": round(a, 1),
            "mb_per_kpixel": round(b * 1000, 3),
            "full_padded_pixels": full_px,
            "predicted_full_mb": round(predicted),
            "full_untiled": "measured below"
            if fits
            else f"not run (over the {limit / 1024:.1f} GiB this shared machine allows)",
        }
        if fits:
            record("untiled full", lr_size, None)
    record("tiled full", lr_size, args.tile)
    return report


if __name__ == "__main__":
    main()
