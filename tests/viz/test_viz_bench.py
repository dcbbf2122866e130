import json
from pathlib import Path

import pytest

from srlab.viz import load_bench_reports, plot_kernel_bench

RESULTS = Path(__file__).resolve().parents[2] / "experiments" / "bench" / "results"


def _gpu_like_report() -> dict:
    """A report shaped like a GPU run: two backends, two dtypes, five K, one model."""
    rows = [
        {"model": "pft", "dtype": "torch.float32", "K": 1024, "backend": "sdpa", "op": "dense_fwd", "ms": 2.0}
    ]
    for backend, speed in (("torch", 1.0), ("cupy-atomic", 4.0)):
        for dtype, width in (("torch.float32", 4), ("torch.bfloat16", 2)):
            for k in (256, 128, 64, 32, 16):
                for op in ("qk_fwd", "av_fwd", "qk_bwd", "av_bwd"):
                    moved = 1e6 * k * width  # bytes
                    ms = moved / (speed * 1e9) * 1e3 * (1.5 if op.endswith("bwd") else 1.0)
                    rows.append({"model": "pft", "dtype": dtype, "K": k, "backend": backend, "op": op, "ms": ms,
                                 "GB/s": moved / ms / 1e6})  # fmt: skip
    return {"device": "NVIDIA H100", "copy_GBps": 3000.0, "backends": ["torch", "cupy"], "products": rows}


def test_every_committed_result_loads_and_plots():
    reports = load_bench_reports(RESULTS)
    assert reports, f"no bench.json under {RESULTS}"
    for path, report in reports:
        fig = plot_kernel_bench(report)
        assert report["device"] in fig.get_suptitle(), path
        assert report["copy_GBps"] > 0


def test_reports_are_found_at_any_depth_and_bad_files_are_named(tmp_path):
    (tmp_path / "h100" / "run1").mkdir(parents=True)
    (tmp_path / "h100" / "run1" / "bench.json").write_text(json.dumps(_gpu_like_report()))
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "bench.json").write_text(json.dumps({**_gpu_like_report(), "device": "cpu"}))
    assert [r["device"] for _, r in load_bench_reports(tmp_path)] == ["cpu", "NVIDIA H100"]
    (tmp_path / "cpu" / "bench.json").write_text("{")
    with pytest.raises(ValueError, match=r"cpu/bench.json: not valid JSON"):
        load_bench_reports(tmp_path)
    (tmp_path / "cpu" / "bench.json").write_text(json.dumps({"device": "cpu"}))
    with pytest.raises(ValueError, match="missing copy_GBps, products"):
        load_bench_reports(tmp_path)
    with pytest.raises(FileNotFoundError, match="no benchmark results folder"):
        load_bench_reports(tmp_path / "nowhere")


def test_bench_plot_draws_each_line_and_the_bandwidth_floor():
    report = _gpu_like_report()
    fig = plot_kernel_bench(report)
    axes = fig.axes
    assert len(axes) == 8  # time and bandwidth × four products
    time_ax, bw_ax = axes[0], axes[4]
    assert time_ax.get_title() == "smm_qk forward" and time_ax.get_ylabel() == "time per call (ms)"
    assert (
        bw_ax.get_ylabel() == "achieved bandwidth (GB/s)" and bw_ax.get_xlabel() == "K (keys kept per query)"
    )
    measured = [line for line in time_ax.lines if line.get_linestyle() != "--"]
    assert len(measured) == 4  # 2 backends × 2 dtypes
    floors = [line for line in time_ax.lines if line.get_linestyle() == "--"]
    assert len(floors) == 2  # one per dtype: the bytes moved do not depend on the backend
    fp32 = next(r for r in report["products"] if (r["op"], r["dtype"], r["K"], r["backend"]) ==
                ("qk_fwd", "torch.float32", 16, "torch"))  # fmt: skip
    floor_ms = fp32["GB/s"] * fp32["ms"] / 3000.0  # bytes / copy bandwidth
    assert any(float(f.get_ydata()[0]) == pytest.approx(floor_ms) for f in floors)
    assert [float(y) for y in bw_ax.lines[-1].get_ydata()] == [3000.0, 3000.0]  # the copy-bandwidth ceiling
    legend = [t.get_text() for t in axes[3].get_legend().get_texts()]
    assert "backend cupy-atomic" in legend and "bfloat16" in legend
    assert [t.get_text() for t in time_ax.get_xticklabels()] == ["16", "32", "64", "128", "256"]


def test_bench_plot_needs_product_rows():
    with pytest.raises(ValueError, match="benchmark report of cpu has no sparse-product rows"):
        plot_kernel_bench({"device": "cpu", "copy_GBps": 1.0, "products": []})
