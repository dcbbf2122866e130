"""The attention-focus callback: panels for window attention, a clean skip for nets without it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from srlab.config.compose import compose_config, model_spec
from srlab.logging.focus_panels import AttentionFocusPanels, centre_crop
from srlab.nets import build_net


class ImageLog:
    """A logger that keeps its ``log_image`` calls (the W&B side is tested on a real offline run)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def log_image(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def _validate_once(overrides: list[str], callback: AttentionFocusPanels) -> ImageLog:
    torch.manual_seed(0)
    net = build_net(model_spec(compose_config(overrides))).eval()
    logger = ImageLog()
    trainer = SimpleNamespace(loggers=[logger], sanity_checking=False, is_global_zero=True, global_step=2)
    batch = {"lr": torch.rand(1, 3, 40, 52), "name": ["img"]}
    callback.on_validation_batch_end(
        trainer, SimpleNamespace(net=net, device=torch.device("cpu")), None, batch, 0
    )
    return logger


def test_topk_panels_name_every_layer_and_its_kept_keys():
    logger = _validate_once(["attn=topk"], AttentionFocusPanels([[0.5, 0.5], [0.0, 1.0]], crop=64))
    assert [c["key"] for c in logger.calls] == ["val/focus/y20_x20", "val/focus/y0_x39"]  # crop 40×40
    call = logger.calls[0]
    assert len(call["images"]) == len(call["caption"]) == 1 + 6  # context + tiny's 6 layers
    assert all(im.shape == (128, 128, 3) and im.dtype == np.uint8 for im in call["images"])
    assert call["caption"][1].startswith("layer 0 (no shift): K=64/64")
    assert call["caption"][6].startswith("layer 5 (shift 4): K=8/64") and call["step"] == 2


@pytest.mark.parametrize("overrides", [["model=plainusr_t"], ["attn=lia"]], ids=["plainusr", "lia"])
def test_nets_without_window_attention_are_skipped(overrides: list[str], caplog: pytest.LogCaptureFixture):
    callback = AttentionFocusPanels()
    with caplog.at_level("INFO", logger="srlab.logging.focus_panels"):
        assert _validate_once(overrides, callback).calls == []
    assert not callback.enabled and "attention-focus panels off" in caplog.text


def test_centre_crop_is_square_and_a_window_multiple():
    lr = torch.arange(3 * 30 * 50.0).reshape(3, 30, 50)
    crop = centre_crop(lr, 64, 8)
    assert crop.shape == (3, 24, 24) and torch.equal(crop, lr[:, 3:27, 13:37])
    with pytest.raises(ValueError, match="smaller than the window 32"):
        centre_crop(lr, 64, 32)
