import pytest
import torch

from srlab.nets import build_net
from srlab.results import RunSummary, write_summary
from srlab.viz import load_run_net, plot_tradeoffs, run_records, summaries_from_wandb
from srlab.viz.runs import keep_label


def _summary(
    attn: str, window: int, keep: list[int], psnr: float, macs: int, speed: float | None
) -> RunSummary:
    return RunSummary.from_dict({"run_dir": f"/runs/{attn}-{window}", "mode": "train", "model_spec": {}, "choices": {"attn": attn}, "config": {"window": window, "scale": 2},
            "params": 1000, "macs": macs, "macs_input": [32, 32], "sparsity": {"kept": keep}, "steps_per_s": speed,
            "metrics": {"samples": {"psnr_y": psnr, "ssim_y": 0.9, "bicubic_psnr_y": 30.0, "bicubic_ssim_y": 0.8},
                        "Set5": {"psnr_y": psnr + 1, "ssim_y": 0.95, "bicubic_psnr_y": 33.0, "bicubic_ssim_y": 0.9}}})  # fmt: skip


SUMMARIES = [
    _summary("dense", 8, [64] * 4, 31.0, 2_000_000_000, 4.0),
    _summary("pfa", 8, [64, 64, 16, 16], 30.8, 1_500_000_000, 2.0),
    _summary("topk", 16, [256, 256, 64, 32], 31.2, 2_600_000_000, None),
]


def test_keep_label_names_the_schedule_briefly():
    assert keep_label([64, 64, 64], 64) == "full"
    assert keep_label([256, 256, 64, 64, 32, 32], 256) == "256→64→32"
    assert keep_label([16, 64, 16], 64) == "16→64→16"
    assert keep_label(None, 64) == "?"


def test_run_records_flatten_runs_and_sets():
    records = run_records(SUMMARIES)
    assert len(records) == 6 and {r.set_name for r in records} == {"samples", "Set5"}
    pfa = run_records(SUMMARIES, "Set5")[1]
    assert (pfa.attn, pfa.window, pfa.keep, pfa.psnr_y, pfa.macs_input) == (
        "pfa",
        8,
        (64, 64, 16, 16),
        31.8,
        (32, 32),
    )
    assert pfa.label == "pfa, M=8, K 64→16" and pfa.run_dir == "/runs/pfa-8"
    with pytest.raises(ValueError, match="run /runs/x: summary has no metrics"):
        run_records([RunSummary("/runs/x", "train", {}, {}, {}, 0, 0, metrics={})])


def test_tradeoff_plot_has_one_point_per_run_and_labelled_axes():
    records = run_records(SUMMARIES, "samples")
    fig = plot_tradeoffs(records)
    macs_ax, speed_ax = fig.axes[:2]
    points = [line for line in macs_ax.lines if line.get_linestyle() == "None"]
    assert sorted(float(p.get_xdata()[0]) for p in points) == pytest.approx([1.5, 2.0, 2.6])  # G MACs
    assert len([line for line in speed_ax.lines if line.get_linestyle() == "None"]) == 2  # topk has no speed
    assert macs_ax.get_xlabel() == "MACs at LR 32×32 (G)" and macs_ax.get_ylabel() == "PSNR-Y on samples (dB)"
    legend = [t.get_text() for t in speed_ax.get_legend().get_texts()]
    assert "attn=pfa" in legend and "window M=16" in legend and "bicubic (30.00 dB)" in legend
    assert {t.get_text() for t in macs_ax.texts} == {"full", "64→16", "256→64→32"}
    with pytest.raises(ValueError, match="several test sets"):
        plot_tradeoffs(run_records(SUMMARIES))


def test_load_run_net_rebuilds_the_ema_network(tmp_path):
    spec = {"arch": "window_sr", "scale": 2, "embed_dim": 8, "depths": [2], "num_heads": 2, "window_size": 4,
            "upsampler": "pixelshuffledirect"}  # fmt: skip
    torch.manual_seed(1)
    net = build_net(spec).eval()
    write_summary(
        tmp_path / "summary.json", RunSummary(str(tmp_path), "train", {}, {}, spec, 0, 0, metrics={})
    )
    with pytest.raises(FileNotFoundError, match=r"net_ema\.pth: missing"):
        load_run_net(tmp_path)
    torch.save({"params_ema": net.state_dict()}, tmp_path / "net_ema.pth")
    loaded = load_run_net(tmp_path)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x))
    assert not loaded.training


def test_wandb_runs_become_summaries(monkeypatch):
    import srlab.tables
    from srlab.tables import Run

    run = Run("https://wandb.ai/e/p/runs/1", {"attn": "pfa"}, {"window": 16, "macs": 5, "params": 7, "macs_input": [64, 64]},
              None, {"Set5": {"psnr_y": 30.0, "ssim_y": 0.9}}, 0.0)  # fmt: skip
    monkeypatch.setattr(
        srlab.tables, "wandb_runs", lambda path, group: [run] if (path, group) == ("e/p", "g") else []
    )
    (summary,) = summaries_from_wandb("e/p", "g")
    (record,) = run_records([summary])
    assert (record.attn, record.window, record.macs, record.params, record.macs_input) == (
        "pfa",
        16,
        5,
        7,
        (64, 64),
    )
    assert record.run_dir == run.where and record.steps_per_s is None and record.label == "pfa, M=16, K ?"
