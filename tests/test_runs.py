import pytest

from srlab.results import find_summaries, write_summary
from srlab.runs import runs_table


def _summary(name: str, psnr: float) -> dict:
    return {
        "run_dir": name, "mode": "train", "wandb": {"name": name}, "choices": {"model": "tiny", "attn": "pfa"}, "config": {"scale": 2, "window": 8},
        "model_spec": {"arch": "window_sr"}, "params": 1234, "macs": 2.5e9,
        "metrics": {"samples": {"psnr_y": psnr, "ssim_y": 0.9, "bicubic_psnr_y": 30.0, "bicubic_ssim_y": 0.8}},
    }  # fmt: skip


def test_summaries_in_job_order_and_table(tmp_path):
    for job, psnr in ((10, 31.0), (2, 32.0)):
        (tmp_path / str(job)).mkdir()
        write_summary(tmp_path / str(job) / "summary.json", _summary(f"job{job}", psnr))
    summaries = find_summaries(tmp_path)
    assert [s.wandb["name"] for s in summaries] == ["job2", "job10"]
    table = runs_table(summaries).splitlines()
    assert (
        table[2] == "| job2 | tiny | 2 | pfa | 8 | 1,234 | 2.50 | samples | 32.00 | 0.9000 | 30.00 | 0.8000 |"
    )


def test_broken_summary_is_named(tmp_path):
    (tmp_path / "summary.json").write_text("{")
    with pytest.raises(ValueError, match=r"summary\.json: not valid JSON"):
        find_summaries(tmp_path)
    with pytest.raises(FileNotFoundError, match="no run folder"):
        find_summaries(tmp_path / "absent")
