"""The benchmarks run end to end on the CPU (tiny shapes) so they cannot rot."""

import importlib.util
import json
from pathlib import Path

from srlab_kernels import backend, bench, flags

KERNEL_BENCH = Path(__file__).resolve().parents[2] / "experiments" / "bench" / "kernels.py"


def test_product_benchmark_writes_json_and_markdown(tmp_path):
    previous = flags.set_debug(True)
    try:
        report = bench.main(["--out", str(tmp_path), "--cpu-smoke"])
        assert flags.is_debug()  # restored after the run, which times with debug mode off
    finally:
        flags.set_debug(previous)
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert saved["backends"] == ["torch"] and saved["copy_GBps"] > 0
    assert saved["torch_baseline"] == "no bounds checks, no host sync"
    ops = {(r["model"], r["op"]) for r in saved["products"]}
    assert {("pft", "qk_fwd"), ("pft_light", "av_bwd"), ("pft", "dense_fwd")} <= ops
    assert all(r["ms"] > 0 for r in report["products"])
    text = (tmp_path / "bench.md").read_text()
    assert "no host synchronisation" in text and "training step" not in text
    assert backend.get_backend() == "auto"


def test_kernel_benchmark_with_training_step_writes_json_and_markdown(tmp_path):
    spec = importlib.util.spec_from_file_location("kernel_bench", KERNEL_BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out", str(tmp_path), "--cpu-smoke"])
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert saved["training"][0]["ms_per_step"] > 0 and saved["products"]
    assert "| pft_light_x4 | torch |" in (tmp_path / "bench.md").read_text()
    assert backend.get_backend() == "auto"
