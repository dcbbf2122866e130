"""Benchmark of the sparse products: ``python -m srlab_kernels.bench --out DIR [--cpu-smoke]``.

On a GPU: PFT (d 40, 6 heads) and PFT-light (d 13, 4 heads) windows of a 32×64×64 training batch (N = 1024,
Bt = 32·(64/32)²·heads), K ∈ {256, 128, 64, 32, 16}, fp32 and bf16, forward and backward (both scatter
modes) of ``smm_qk``/``smm_av`` for each available backend (torch reference, cupy) and dense SDPA on the same
windows. Times are CUDA-event medians after warm-up; GB/s counts each input read once and each output
written once, also as a percentage of the measured device-to-device copy bandwidth. Writes ``bench.json``
and ``bench.md`` to DIR.

The torch baseline is the reference as it runs in training: debug mode is off during the benchmark, so it
checks no index bounds and never synchronises with the host (neither does the cupy backend).

``--cpu-smoke`` runs the same code on tiny shapes on the CPU (torch backend only) so it cannot rot. This
module imports nothing from ``srlab``; the benchmark that adds a PFT-light training step per backend is
``experiments/bench/kernels.py``, built on :func:`setup`, :func:`products_report` and :func:`write`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from srlab_kernels import backend, flags, ops
from srlab_kernels.device import device_name

PFT_LIKE = {"pft": (6, 40), "pft_light": (4, 13)}  # heads, d
K_VALUES = (256, 128, 64, 32, 16)


def _timer(device: torch.device, warmup: int, repeats: int) -> Callable[[Callable[[], Any]], float]:
    """A function timing a callable: median milliseconds (CUDA events on GPU, perf_counter on CPU)."""

    def measure(fn: Callable[[], Any]) -> float:
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            if device.type == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)

    return measure


def copy_bandwidth(device: torch.device, nbytes: int, measure: Callable[[Callable[[], Any]], float]) -> float:
    """GB/s of a large device-to-device copy (bytes read plus bytes written)."""
    src = torch.rand(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    return 2 * nbytes / measure(lambda: dst.copy_(src)) / 1e6


def _bytes(b: int, n: int, k: int, d: int, es: int) -> dict[str, int]:
    """Fewest bytes each product moves (N = M): inputs read once, output written once; idx int32."""
    pairs = b * n * k * (es + 4)  # a (B, N, K) operand and idx, or an output and idx
    rows = b * n * d * es
    return {
        "qk_fwd": 2 * rows + pairs,  # q, k in; out (B, N, K) + idx
        "av_fwd": pairs + 2 * rows,  # a + idx in; v in; out (B, N, d)
        "scatter": pairs + 2 * rows,  # w + idx in; x in; out (B, M, d)
    }


def _cases(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    g: torch.Tensor,
    a: torch.Tensor,
    idx: torch.Tensor,
    nbytes: dict[str, int],
) -> dict[str, tuple[Callable[[], Any], int]]:
    """Name → (call, bytes moved) for the forward and backward of smm_qk and smm_av (N = M)."""
    n = q.shape[1]
    return {
        "qk_fwd": (lambda: ops.smm_qk(q, k, idx), nbytes["qk_fwd"]),
        "av_fwd": (lambda: ops.smm_av(a, v, idx), nbytes["av_fwd"]),
        "qk_bwd": (
            lambda: (ops.smm_av(a, k, idx), ops.smm_scatter(a, q, idx, n)),
            nbytes["av_fwd"] + nbytes["scatter"],
        ),
        "av_bwd": (
            lambda: (ops.smm_qk(g, v, idx), ops.smm_scatter(a, g, idx, n)),
            nbytes["qk_fwd"] + nbytes["scatter"],
        ),
    }


def bench_products(
    device: torch.device, shapes: dict[str, tuple[int, int, int]], ks: tuple[int, ...], dtypes: list[torch.dtype],
    backends: list[str], measure: Callable[[Callable[[], Any]], float], copy_gbs: float,
) -> list[dict[str, Any]]:  # fmt: skip
    """One row per (model, dtype, K, backend, op): ms, GB/s, % of copy bandwidth, speed-up over torch."""
    rows: list[dict[str, Any]] = []
    for model, (bt, n, d) in shapes.items():
        for dtype in dtypes:
            q, k, v, g = (torch.randn(bt, n, d, device=device, dtype=dtype) for _ in range(4))
            dense = measure(lambda q=q, k=k, v=v: F.scaled_dot_product_attention(q, k, v))
            rows.append({"model": model, "dtype": str(dtype), "K": n, "backend": "sdpa", "op": "dense_fwd",
                         "ms": dense})  # fmt: skip
            for kk in ks:
                a = torch.rand(bt, n, kk, device=device, dtype=dtype)
                idx = torch.randint(0, n, (bt, n, kk), device=device, dtype=torch.int32)
                nbytes = _bytes(bt, n, kk, d, q.element_size())
                cases = _cases(q, k, v, g, a, idx, nbytes)
                torch_ms: dict[str, float] = {}
                for name in backends:
                    backend.set_backend(name)
                    for det in (False, True) if name == "cupy" else (None,):
                        flags.set_deterministic(det)
                        for op, (fn, moved) in cases.items():
                            if det and op.endswith("fwd"):
                                continue  # the forward kernels have no atomics: one mode
                            ms = measure(fn)
                            if name == "torch":
                                torch_ms[op] = ms
                            rows.append({
                                "model": model, "dtype": str(dtype), "K": kk,
                                "backend": name + ("" if det is None else "-det" if det else "-atomic"),
                                "op": op, "ms": ms, "GB/s": moved / ms / 1e6,
                                "%copy": 100 * moved / ms / 1e6 / copy_gbs,
                                "vs_torch": torch_ms[op] / ms if op in torch_ms else None,
                            })  # fmt: skip
                flags.set_deterministic(None)
    return rows


def _cell(row: dict[str, Any], key: str, spec: str) -> str:
    return "" if row.get(key) is None else format(row[key], spec)


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: the products table, then the training-step table when the report has one."""
    lines = [f"# srlab_kernels benchmark ({report['device']})", "",
             f"Device-to-device copy: {report['copy_GBps']:.0f} GB/s (read + write). The torch backend runs "
             "without index bounds checks (debug mode off): no host synchronisation.", "",
             "| model | dtype | K | backend | op | ms | GB/s | % copy | × torch |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in report["products"]:
        lines.append(f"| {r['model']} | {r['dtype']} | {r['K']} | {r['backend']} | {r['op']} | {r['ms']:.3f} | "
                     f"{_cell(r, 'GB/s', '.0f')} | {_cell(r, '%copy', '.0f')} | {_cell(r, 'vs_torch', '.2f')} |")  # fmt: skip
    if not report.get("training"):
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "| training step | backend | batch | LR patch | ms/step | peak MiB |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["training"]:
        peak = "" if r["peak_MiB"] is None else f"{r['peak_MiB']:.0f}"
        lines.append(
            f"| {r['model']} | {r['backend']} | {r['batch']} | {r['lr_patch']} | {r['ms_per_step']:.1f} | {peak} |"
        )
    return "\n".join(lines) + "\n"


@dataclasses.dataclass(frozen=True)
class Setup:
    """Where and how to measure: the device, tiny CPU shapes or not, the backends to time, the timer."""

    device: torch.device
    smoke: bool
    backends: list[str]
    measure: Callable[[Callable[[], Any]], float]


def parser(description: str) -> argparse.ArgumentParser:
    """The command-line options every kernel benchmark shares: ``--out``, ``--cpu-smoke``, ``--repeats``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cpu-smoke", action="store_true", help="tiny shapes on the CPU (torch backend)")
    p.add_argument("--repeats", type=int, default=20)
    return p


def setup(p: argparse.ArgumentParser, args: argparse.Namespace) -> Setup:
    """The :class:`Setup` for parsed ``args`` (a usage error without CUDA unless ``--cpu-smoke``)."""
    smoke = args.cpu_smoke
    if not smoke and not torch.cuda.is_available():
        p.error("no CUDA device: use --cpu-smoke")
    device = torch.device("cpu" if smoke else "cuda", None if smoke else torch.cuda.current_device())
    measure = _timer(device, warmup=1 if smoke else 5, repeats=2 if smoke else args.repeats)
    backends = ["torch"] if smoke or backend._cupy_problem() is not None else ["torch", "cupy"]
    return Setup(device, smoke, backends, measure)


def products_report(s: Setup) -> dict[str, Any]:
    """Time the products (debug mode off, backend selection restored afterwards): the report's common part."""
    if s.smoke:
        shapes, ks, dtypes = {"pft": (2, 64, 40), "pft_light": (2, 64, 13)}, (16, 8), [torch.float32]
    else:
        shapes = {m: (32 * (64 // 32) ** 2 * heads, 1024, d) for m, (heads, d) in PFT_LIKE.items()}
        ks, dtypes = K_VALUES, [torch.float32, torch.bfloat16]
    selected, debug = backend.get_backend(), flags.set_debug(False)
    try:
        copy_gbs = copy_bandwidth(s.device, (8 if s.smoke else 1024) * 2**20, s.measure)
        return {
            "device": device_name(s.device),
            "shapes": "cpu-smoke" if s.smoke else "pft-training", "torch": torch.__version__,
            "backends": s.backends, "copy_GBps": copy_gbs, "torch_baseline": "no bounds checks, no host sync",
            "products": bench_products(s.device, shapes, ks, dtypes, s.backends, s.measure, copy_gbs),
        }  # fmt: skip
    finally:
        backend.set_backend(selected)
        flags.set_debug(debug)


def write(report: dict[str, Any], out: Path) -> None:
    """Write ``bench.json`` and ``bench.md`` under ``out`` and print the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=1))
    (out / "bench.md").write_text(markdown(report))
    print(markdown(report))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Time the products and write ``bench.json`` and ``bench.md`` under ``--out``; returns the report."""
    p = parser(__doc__.split("\n\n")[0])
    args = p.parse_args(argv)
    report = products_report(setup(p, args))
    write(report, args.out)
    return report


if __name__ == "__main__":
    main()
