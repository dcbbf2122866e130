"""DI over a fixed probe list: parsing the config's probes, the crop around each box, the mean."""

import json

import pytest
import torch
from omegaconf import OmegaConf
from test_train import run_py

from srlab.analysis import DEFAULT_PROBES, Probe, lam, lam_probes, parse_probes
from srlab.analysis.probes import crop_for_box
from srlab.config.compose import compose_config
from srlab.data.samples import SAMPLE_SPLITS
from srlab.nets import build_net

SPEC = {"arch": "window_sr", "scale": 2, "embed_dim": 8, "depths": [1], "num_heads": 2, "window_size": 4,
        "upsampler": "pixelshuffledirect"}  # fmt: skip


def test_parse_probes_and_errors_naming_the_entry():
    probes = parse_probes({"Set14": [{"image": "baboon", "box": [40, 60]}]})
    assert probes == {"Set14": [Probe("baboon", 40, 60)]} and probes["Set14"][0].key == "baboon@40,60"
    with pytest.raises(ValueError, match=r"lam\.probes\.Set14\[1\]=\{'image': 'x'\}: expected"):
        parse_probes({"Set14": [{"image": "baboon", "box": [1, 2]}, {"image": "x"}]})
    with pytest.raises(ValueError, match=r"lam\.probes\.Set14\[0\]"):
        parse_probes({"Set14": [{"image": "baboon", "box": [1, 2, 3]}]})


def test_default_probes_name_the_validation_photos():
    assert {p.image for p in DEFAULT_PROBES["samples"]} == set(SAMPLE_SPLITS["val"])


def test_crop_is_centred_on_the_box_and_stays_inside():
    # box 16 at HR (104, 176), ×2: centre LR (56, 92); a 64 crop starts at (24, 60)
    assert crop_for_box((150, 225), 104, 176, 16, 2, 64) == (24, 60, 64, 64)
    assert crop_for_box((150, 225), 0, 430, 16, 2, 64) == (0, 161, 64, 64)  # clamped to the edges
    assert crop_for_box((40, 225), 10, 10, 16, 2, 64) == (0, 0, 40, 64)  # image smaller than the crop


def test_lam_probes_mean_and_per_probe_values():
    torch.manual_seed(0)
    net = build_net(SPEC)
    images = {"samples": {"a": torch.rand(3, 30, 40), "b": torch.rand(3, 20, 20)}, "other": {}}
    probes = {"samples": [Probe("a", 20, 50), Probe("b", 4, 6)], "unused": [Probe("c", 0, 0)]}
    out = lam_probes(net, probes, images, scale=2, window=8, fold=3, crop=16)
    assert list(out["per_probe"]) == ["samples/a@20,50", "samples/b@4,6"]
    assert out["di_mean"] == pytest.approx(sum(out["per_probe"].values()) / 2)
    top, left, h, w = crop_for_box((30, 40), 20, 50, 8, 2, 16)
    direct = lam(net, images["samples"]["a"][:, top : top + h, left : left + w], 20 - 2 * top, 50 - 2 * left,
                 window=8, fold=3)  # fmt: skip
    assert out["per_probe"]["samples/a@20,50"] == pytest.approx(direct.di, rel=1e-6)
    assert lam_probes(net, probes, {"other": {}}, scale=2) == {"di_mean": None, "per_probe": {}}
    with pytest.raises(ValueError, match=r"lam probe samples/c@0,0: no image 'c' in samples \(has a, b\)"):
        lam_probes(net, {"samples": [Probe("c", 0, 0)]}, images, scale=2)
    with pytest.raises(ValueError, match=r"lam probe samples/b@36,6: box \(h=36"):
        lam_probes(net, {"samples": [Probe("b", 36, 6)]}, images, scale=2, window=8, fold=2)


def test_config_probes_are_the_default_probes():
    cfg = compose_config([])
    assert parse_probes(OmegaConf.to_container(cfg.lam.probes)) == {
        k: list(v) for k, v in DEFAULT_PROBES.items()
    }
    assert cfg.lam.enabled is False and (cfg.lam.window, cfg.lam.fold, cfg.lam.sigma) == (16, 50, 1.2)


def test_a_test_run_logs_mean_and_per_probe_di_in_its_summary(tmp_path, data_dir):
    run_dir = tmp_path / "job"
    run_py("debug=fast", "logger=csv", "efficiency.enabled=false", "lam.enabled=true", "lam.fold=2", "lam.crop=24",
           f"hydra.run.dir={run_dir}", data_dir=data_dir, cwd=tmp_path)  # fmt: skip
    lam = json.loads((run_dir / "summary.json").read_text())["lam"]
    assert set(lam["per_probe"]) == {f"samples/{p.key}" for p in DEFAULT_PROBES["samples"]}
    assert all(0 < v < 100 for v in lam["per_probe"].values())
    assert lam["di_mean"] == pytest.approx(sum(lam["per_probe"].values()) / len(lam["per_probe"]))


def test_each_probe_reaches_the_callback_with_its_crop_and_box():
    torch.manual_seed(0)
    net = build_net(SPEC)
    images = {"samples": {"a": torch.rand(3, 30, 40)}}
    seen = []
    out = lam_probes(net, {"samples": [Probe("a", 20, 50)]}, images, scale=2, window=8, fold=2, crop=16,
                     on_probe=lambda name, lr, result, h, w: seen.append((name, lr.shape, result.di, h, w)))  # fmt: skip
    top, left, _, _ = crop_for_box((30, 40), 20, 50, 8, 2, 16)
    assert seen == [
        ("samples/a@20,50", (3, 16, 16), out["per_probe"]["samples/a@20,50"], 20 - 2 * top, 50 - 2 * left)
    ]
