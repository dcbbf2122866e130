"""NonFiniteGuard: NaN/Inf losses and gradients stop the run naming the step and parameter, or are skipped."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from tiny_fit import loader, tiny_module, trainer

from srlab.lit.ema import EMA
from srlab.lit.guards import NonFiniteError, NonFiniteGuard

QKV = "net.layers.0.residual_group.blocks.1.attn.qkv.weight"
LATER = "net.conv_after_body.weight"


class PoisonGrad(L.Callback):
    """Write ``value`` into one element of each named parameter's gradient at the given global steps."""

    def __init__(self, names: list[str], steps: set[int], value: float = float("nan")) -> None:
        self.names, self.steps, self.value = names, steps, value

    def on_after_backward(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_step in self.steps:
            params = dict(pl_module.named_parameters())
            for name in self.names:
                params[name].grad.view(-1)[0] = self.value


class WeightsUnchanged(L.Callback):
    """Record, per global step, whether the optimizer step left every parameter as it was."""

    def __init__(self) -> None:
        self.unchanged: dict[int, bool] = {}

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *_: object) -> None:
        self._before = [p.detach().clone() for p in pl_module.parameters()]
        self._step = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *_: object) -> None:
        after = list(pl_module.parameters())
        self.unchanged[self._step] = all(torch.equal(a, b) for a, b in zip(self._before, after, strict=True))


def _all_finite(module: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in module.parameters())


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_stop_names_the_step_and_the_first_parameter(value: float):
    module = tiny_module()
    assert list(dict(module.named_parameters())).index(QKV) < list(dict(module.named_parameters())).index(
        LATER
    )
    tr = trainer(max_steps=4, callbacks=[PoisonGrad([LATER, QKV], {2}, value), NonFiniteGuard("stop")])
    with pytest.raises(NonFiniteError) as err:
        tr.fit(module, loader())
    message = str(err.value)
    assert f"non-finite gradient in {QKV} " in message and "global step 2" in message
    assert "module net.layers.0.residual_group.blocks.1.attn.qkv;" in message and "2 of " in message
    assert tr.global_step == 2 and _all_finite(module)  # the poisoned update never reached the weights


def test_stop_on_a_nan_loss():
    tr = trainer(max_steps=4, callbacks=[NonFiniteGuard("stop")])
    with pytest.raises(NonFiniteError, match=r"non-finite loss .* at global step 1 "):
        tr.fit(tiny_module(), loader(nan_at=(1,)))


def test_large_finite_gradients_pass():
    # an L2 norm of 1e30 overflows float32; the guard's max-abs check must not call that non-finite
    tr = trainer(max_steps=2, callbacks=[PoisonGrad([QKV], {0, 1}, 1e30), NonFiniteGuard("stop")])
    tr.fit(tiny_module(), loader())
    assert tr.global_step == 2


def test_skip_drops_the_update_counts_and_keeps_weights_and_ema_finite():
    guard, watch = NonFiniteGuard("skip", max_skips=2), WeightsUnchanged()
    module = tiny_module()
    tr = trainer(max_steps=6, callbacks=[PoisonGrad([QKV], {1, 2, 4}), guard, watch, EMA(decay=0.9)])
    tr.fit(module, loader(nan_at=(2,)))  # step 2: NaN loss and a NaN gradient
    assert tr.global_step == 6 and guard.skipped == 3 and guard.consecutive == 0
    assert watch.unchanged == {0: False, 1: True, 2: True, 3: False, 4: True, 5: False}
    assert tr.callback_metrics["train/nonfinite_skips"].item() == 3
    assert _all_finite(module)  # after fit these are the EMA weights
    assert guard.state_dict() == {"skipped": 3, "consecutive": 0}


def test_skip_stops_after_max_skips_consecutive_steps():
    guard = NonFiniteGuard("skip", max_skips=2)
    tr = trainer(max_steps=6, callbacks=[PoisonGrad([QKV], {1, 2, 3}), guard])
    with pytest.raises(NonFiniteError, match=r"global step 3 .*3 consecutive non-finite steps.*max_skips=2"):
        tr.fit(tiny_module(), loader())
    assert guard.skipped == 2


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match=r"callbacks\.nonfinite\.action='ignore'"):
        NonFiniteGuard("ignore")
    with pytest.raises(ValueError, match=r"callbacks\.nonfinite\.max_skips=-1"):
        NonFiniteGuard("skip", max_skips=-1)
