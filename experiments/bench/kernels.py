"""The kernel benchmark with a training step: ``python experiments/bench/kernels.py --out DIR [--cpu-smoke]``.

Everything ``python -m srlab_kernels.bench`` times (the sparse products per backend, dtype and K, dense SDPA,
the copy bandwidth; see :mod:`srlab_kernels.bench`), plus a PFT-light ×4 training step (batch 32, LR patch
64; a toy PFT-light-like net on ``--cpu-smoke``) per backend: ms per step and peak GPU memory. The step
needs srlab's networks and presets, which is why it lives here, above both packages, and not in
``srlab_kernels`` (which imports nothing from ``srlab``). Writes ``bench.json`` and ``bench.md`` to DIR, the
format ``srlab.viz.load_bench_reports`` and ``notebooks/kernels.ipynb`` read.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from srlab.nets import build_net
from srlab_kernels import backend, bench, flags

TOY_SPEC = {
    "arch": "window_sr", "embed_dim": 16, "depths": [2], "num_heads": 4, "mlp_ratio": 1.0, "ffn": "convffn",
    "ffn_kernel": 7, "lepe": True, "rpb": "shared", "upsampler": "pixelshuffledirect",
    "resi_connection": "1conv", "img_range": 1.0, "drop_path_rate": 0.0, "pad_mode": "symmetric", "scale": 4,
    "window_size": 8, "attn": {"name": "pfa"}, "keep": [64, 16], "ca_weight": 0.0, "overlap": None,
}  # fmt: skip
"""PFT-light's blocks at toy size, for ``--cpu-smoke`` (composing the real preset costs seconds of Hydra)."""


def bench_training(s: bench.Setup) -> list[dict[str, Any]]:
    """PFT-light ×4 training step per backend (debug mode off): ms/step and peak GPU memory."""
    if s.smoke:
        spec, batch, patch = TOY_SPEC, 1, 8
    else:
        from srlab.config.compose import compose_config, model_spec

        spec, batch, patch = model_spec(compose_config(["model=pft_light", "scale=4"])), 32, 64
    rows = []
    selected, debug = backend.get_backend(), flags.set_debug(False)
    try:
        for name in s.backends:
            backend.set_backend(name)
            torch.manual_seed(0)
            net = build_net(spec).to(s.device)
            opt = torch.optim.Adam(net.parameters(), lr=1e-4)
            lr = torch.rand(batch, 3, patch, patch, device=s.device)
            hr = torch.rand(batch, 3, 4 * patch, 4 * patch, device=s.device)

            def step(
                net: torch.nn.Module = net,
                opt: torch.optim.Optimizer = opt,
                lr: torch.Tensor = lr,
                hr: torch.Tensor = hr,
            ) -> None:
                opt.zero_grad(set_to_none=True)
                F.l1_loss(net(lr), hr).backward()
                opt.step()

            if s.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(s.device)
            ms = s.measure(step)
            peak = torch.cuda.max_memory_allocated(s.device) / 2**20 if s.device.type == "cuda" else None
            rows.append({"model": "pft_light_x4", "backend": name, "batch": batch, "lr_patch": patch,
                         "ms_per_step": ms, "peak_MiB": peak})  # fmt: skip
    finally:
        backend.set_backend(selected)
        flags.set_debug(debug)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the product and training-step benchmarks; write ``bench.json`` and ``bench.md`` under ``--out``."""
    p = bench.parser(__doc__.split("\n\n")[0])
    p.add_argument("--no-train", action="store_true", help="skip the training-step benchmark")
    args = p.parse_args(argv)
    s = bench.setup(p, args)
    report = bench.products_report(s)
    report["training"] = [] if args.no_train else bench_training(s)
    bench.write(report, args.out)
    return report


if __name__ == "__main__":
    main()
