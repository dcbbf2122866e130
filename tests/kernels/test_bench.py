"""The benchmark runs end to end on the CPU (tiny shapes) so it cannot rot."""

import json

from srlab_kernels import backend, bench


def test_cpu_smoke_writes_json_and_markdown(tmp_path):
    report = bench.main(["--out", str(tmp_path), "--cpu-smoke"])
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert saved["backends"] == ["torch"] and saved["copy_GBps"] > 0
    ops = {(r["model"], r["op"]) for r in saved["products"]}
    assert {("pft", "qk_fwd"), ("pft_light", "av_bwd"), ("pft", "dense_fwd")} <= ops
    assert all(r["ms"] > 0 for r in report["products"])
    assert saved["training"][0]["ms_per_step"] > 0
    assert "| pft_light_x4 | torch |" in (tmp_path / "bench.md").read_text()
    assert backend.get_backend() == "auto"
