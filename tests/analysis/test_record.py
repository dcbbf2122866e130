"""``srlab lam record``: DI of finished runs into their summaries, as their test would have measured it."""

import re

import pytest
import torch
from omegaconf import OmegaConf
from test_lam_cli import SMALL

from srlab.analysis import Probe, lam_probes
from srlab.cli import main
from srlab.config.compose import compose_config
from srlab.data.imresize import imresize
from srlab.data.samples import load_sample
from srlab.nets import build_net
from srlab.results import RunSummary, read_summary, write_summary

PROBES = "lam.probes={samples: [{image: chelsea, box: [104, 176]}, {image: coffee, box: [40, 60]}]}"


def finished_run(folder, data_root, reused_from=None):
    """A run dir as a training job leaves it: summary.json with the resolved config (lam off) and net_ema.pth."""
    cfg = compose_config(["data=samples", f"data.root={data_root}", "lam.fold=2", "lam.crop=24", PROBES])
    config = OmegaConf.to_container(cfg.data, resolve=True), OmegaConf.to_container(cfg.lam), cfg.scale
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    net = build_net(SMALL)
    summary = RunSummary(str(folder), "train", {}, {"data": config[0], "lam": config[1], "scale": config[2]}, SMALL,
                         0, 0, metrics={}, reused_from=reused_from)  # fmt: skip
    write_summary(folder / "summary.json", summary)
    torch.save({"params_ema": net.state_dict()}, folder / "net_ema.pth")
    return net


def _lr(name):
    """The test's LR, written out: MATLAB bicubic ÷2 of the mod-cropped HR on [0, 255], rounded half up to 8 bits."""
    hr = torch.from_numpy(load_sample(name)).permute(2, 0, 1).double()
    h, w = (s - s % 2 for s in hr.shape[-2:])
    return torch.floor(imresize(hr[:, :h, :w], 0.5) + 0.5).clamp(0, 255) / 255


def test_records_the_di_the_test_would_have_measured_then_skips(tmp_path, capsys):
    net = finished_run(tmp_path / "runs" / "a", tmp_path / "data")
    finished_run(tmp_path / "runs" / "copy", tmp_path / "data", reused_from=str(tmp_path / "runs" / "a"))
    assert main(["lam", "record", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^DI +[\d.]+  .*/runs/a  \(\d+ s\)$", out, flags=re.M) and "1 run(s) measured" in out
    assert re.search(r"^skip  .*/runs/copy: reuses ", out, flags=re.M)
    lam = read_summary(tmp_path / "runs" / "a" / "summary.json").lam
    images = {"samples": {"chelsea": _lr("chelsea"), "coffee": _lr("coffee")}}
    direct = lam_probes(net.eval(), {"samples": [Probe("chelsea", 104, 176), Probe("coffee", 40, 60)]}, images,
                        scale=2, fold=2, crop=24)  # fmt: skip
    assert lam["per_probe"] == pytest.approx(direct["per_probe"], rel=1e-5)
    assert lam["di_mean"] == pytest.approx(direct["di_mean"], rel=1e-5)
    assert main(["lam", "record", str(tmp_path / "runs")]) == 0
    assert "has DI" in capsys.readouterr().out
    assert main(["lam", "record", str(tmp_path / "runs"), "--force"]) == 0
    assert read_summary(tmp_path / "runs" / "a" / "summary.json").lam == lam  # the same numbers again


def test_a_missing_folder_and_a_summary_without_test_settings_are_named(tmp_path, capsys):
    assert main(["lam", "record", str(tmp_path / "nope")]) == 2
    assert f"{tmp_path / 'nope'}: not a folder" in capsys.readouterr().err
    old = tmp_path / "old"
    old.mkdir()
    write_summary(
        old / "summary.json", RunSummary(str(old), "train", {}, {"scale": 2}, SMALL, 0, 0, metrics={})
    )
    torch.save({"params_ema": build_net(SMALL).state_dict()}, old / "net_ema.pth")
    assert main(["lam", "record", str(tmp_path)]) == 2
    assert f"{old / 'summary.json'}: its config has no data, lam" in capsys.readouterr().err
