"""The job's LAM step: DI in the summary, the overlays and the mean DI in W&B (when W&B logs the job)."""

import matplotlib
import pytest
import torch
from omegaconf import OmegaConf

from srlab.config.compose import compose_config
from srlab.job.attribution import OVERLAY_KEY, measure_lam
from srlab.nets import build_net

matplotlib.use("Agg")
SPEC = {"arch": "window_sr", "scale": 2, "embed_dim": 8, "depths": [1], "num_heads": 2, "window_size": 4,
        "upsampler": "pixelshuffledirect"}  # fmt: skip


class WandbLogger:  # the driver recognises W&B's Lightning logger by its class name
    def __init__(self):
        self.images, self.metrics = [], []

    def log_image(self, key, images, caption):
        self.images.append((key, images, caption))

    def log_metrics(self, metrics):
        self.metrics.append(metrics)


class Items:  # an eval set: items {"lr", "name"}, pairs with .name
    def __init__(self, images):
        self.names = list(images)
        self.images = images
        self.pairs = [type("Pair", (), {"name": n}) for n in self.names]

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        return {"lr": self.images[self.names[i]], "name": self.names[i]}


def _cfg(*overrides):
    probes = "lam.probes={samples: [{image: a, box: [20, 50]}, {image: b, box: [4, 6]}]}"
    return compose_config(["lam.enabled=true", "lam.fold=2", "lam.window=8", "lam.crop=16", "scale=2", probes,
                           *overrides, *(["logger.wandb.save_dir=."] if "logger=wandb" in overrides else [])])  # fmt: skip


@pytest.fixture
def job():
    torch.manual_seed(0)
    sets = {"samples": Items({"a": torch.rand(3, 30, 40), "b": torch.rand(3, 20, 20)})}
    return build_net(SPEC), sets


def test_overlays_and_mean_di_go_to_wandb(job):
    net, sets = job
    logger = WandbLogger()
    out = measure_lam(_cfg("logger=wandb"), net, sets, [logger])
    ((key, images, captions),) = logger.images
    assert key == OVERLAY_KEY and [i.shape for i in images] == [(32, 32, 3), (32, 32, 3)]
    assert captions == [f"{k}  DI {v:.2f}" for k, v in out["per_probe"].items()]
    assert logger.metrics == [{"lam/di_mean": out["di_mean"]}]


def test_no_overlays_when_switched_off_or_without_wandb_and_nothing_when_disabled(job):
    net, sets = job
    logger = WandbLogger()
    with_panel = measure_lam(_cfg("logger=wandb"), net, sets, [logger])
    without = measure_lam(_cfg("logger=wandb", "logger.wandb.srlab.lam_overlays=false"), net, sets, [logger])
    assert len(logger.images) == 1 and without == with_panel  # the DI does not depend on the panel
    assert measure_lam(_cfg("logger=csv"), net, sets, []) == with_panel
    assert measure_lam(OmegaConf.merge(_cfg(), {"lam": {"enabled": False}}), net, sets, [logger]) is None


def test_bad_probes_fail_before_any_training():
    from srlab.config.arguments import ConfigError
    from srlab.job.attribution import check_probes

    check_probes(compose_config(["data=samples", "lam.enabled=true"]))  # the default probes are fine
    check_probes(
        compose_config(["data=samples", "lam.probes={samples: [{image: nope}]}"])
    )  # lam off: unchecked
    with pytest.raises(ConfigError, match=r"lam\.probes\.samples\[0\]=\{'image': 'nope'\}: expected"):
        check_probes(
            compose_config(["data=samples", "lam.enabled=true", "lam.probes={samples: [{image: nope}]}"])
        )
    bad = "lam.probes={samples: [{image: astronaut, box: [0, 0]}]}"  # a train photo, not a validation one
    with pytest.raises(
        ConfigError, match=r"lam\.probes\.samples: image 'astronaut' is not in the sample photos' val"
    ):
        check_probes(compose_config(["data=samples", "lam.enabled=true", bad]))
