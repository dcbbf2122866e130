"""The LAM study of docs/results/lam.md: DI of the released PlainUSR weights and of random-init tiny nets.

``python experiments/bench/lam_study.py plainusr|tiny [--attn dense,topk,pfa] [--probes N] [--name NAME]
[--out docs/results/lam]`` writes ``<out>/<NAME or part>.json`` (DI per network and probe, seconds per
LAM) after every network, so a long run can be stopped and read. Probes: the first N of ``srlab.analysis.DEFAULT_PROBES["samples"]`` on the samples'
LR (MATLAB bicubic of the mod-cropped HR, as the test does), at LAM's defaults (window 16, fold 50,
σ₀ 1.2, kernel 9, 64×64 LR crop).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from srlab.analysis import DEFAULT_PROBES, lam_probes
from srlab.data.datasets import bicubic_lr
from srlab.data.samples import load_sample

PLAINUSR = {"plainusr_u": "PlainUSRU", "plainusr_t": "PlainUSRT", "plainusr_s": "PlainUSRS",
            "plainusr_m": "PlainUSRM", "plainusr_base": "PlainUSR", "plainusr_l": "PlainUSRL"}  # fmt: skip
WEIGHTS = Path(__file__).resolve().parents[2] / "../shared/weights/plainusr"


def lr_images(names: set[str], scale: int) -> dict[str, torch.Tensor]:
    """The sample photos' LR, as the test sets make it (:func:`srlab.data.datasets.bicubic_lr`, 8-bit)."""
    return {name: torch.from_numpy(bicubic_lr(load_sample(name), scale)).permute(2, 0, 1).float() / 255
            for name in names}  # fmt: skip


def networks(part: str, scale: int, weights: Path, attns: list[str]) -> dict[str, torch.nn.Module]:
    """The networks of one part of the study, by label: the released PlainUSR sizes, or tiny × attention × M."""
    if part == "plainusr":
        from srlab.nets import load_official

        return {
            f"{arch} ×{scale}": load_official(weights / f"{prefix}_Rep_x{scale}.pth")
            for arch, prefix in PLAINUSR.items()
        }
    from srlab.config.compose import compose_config, model_spec
    from srlab.nets import build_net

    nets = {}
    for attn in attns:
        for window in (8, 16):
            torch.manual_seed(0)
            spec = model_spec(compose_config([f"attn={attn}", f"window={window}", f"scale={scale}"]))
            nets[f"tiny {attn} M={window} (random init)"] = build_net(spec).eval()
    return nets


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("part", choices=("plainusr", "tiny"))
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--probes", type=int, default=6, help="the first N sample probes")
    p.add_argument("--weights", type=Path, default=WEIGHTS)
    p.add_argument("--attn", default="dense,topk,pfa", help="tiny: the attention mechanisms")
    p.add_argument("--name", help="output file stem (default: the part)")
    p.add_argument("--out", type=Path, default=Path("docs/results/lam"))
    args = p.parse_args()
    probes = {"samples": DEFAULT_PROBES["samples"][: args.probes]}
    images = {"samples": lr_images({pr.image for pr in probes["samples"]}, args.scale)}
    record = {"part": args.part, "scale": args.scale, "threads": torch.get_num_threads(), "nets": {}}
    args.out.mkdir(parents=True, exist_ok=True)
    for label, net in networks(args.part, args.scale, args.weights, args.attn.split(",")).items():
        start = time.perf_counter()
        di = lam_probes(net, probes, images, scale=args.scale)
        seconds = (time.perf_counter() - start) / len(di["per_probe"])
        record["nets"][label] = {
            **di,
            "params": sum(p.numel() for p in net.parameters()),
            "s_per_lam": seconds,
        }
        print(f"{label:40s} DI {di['di_mean']:6.2f}  ({seconds:.1f} s per LAM)", flush=True)
        (args.out / f"{args.name or args.part}.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
