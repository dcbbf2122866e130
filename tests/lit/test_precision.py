"""bf16-mixed training for dense, top-k and PFA attention (CPU; GPU tests marked ``gpu``); gradient clipping."""

from __future__ import annotations

from typing import Any

import lightning as L
import pytest
import torch
from tiny_fit import loader, tiny_module, trainer
from torch.utils._python_dispatch import TorchDispatchMode

from srlab.lit.guards import NonFiniteGuard

SPARSE_OPS = {"topk": {"srlab.smm_av.default"}, "pfa": {"srlab.smm_qk.default", "srlab.smm_av.default"}}


class OpDtypes(TorchDispatchMode):
    """The floating input dtypes of every ``srlab.*`` custom op call (forward and backward)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, set[torch.dtype]] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = str(func)
        if name.startswith("srlab."):
            floats = {a.dtype for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()}
            self.seen.setdefault(name, set()).update(floats)
        return func(*args, **(kwargs or {}))


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("attn", ["topk", "pfa"])
def test_sparse_ops_run_in_bf16_under_autocast(attn: str, device: str):
    net = tiny_module(attn).net.to(device)
    x, y = torch.rand(2, 3, 8, 8, device=device), torch.rand(2, 3, 16, 16, device=device)
    with OpDtypes() as mode:
        with torch.autocast(device, dtype=torch.bfloat16):
            loss = torch.nn.functional.l1_loss(net(x), y)
        loss.backward()
    assert SPARSE_OPS[attn] <= set(mode.seen)
    assert all(dtypes == {torch.bfloat16} for dtypes in mode.seen.values()), mode.seen
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and g.dtype == torch.float32 and bool(torch.isfinite(g).all()) for g in grads)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("attn", ["dense", "topk", "pfa"])
def test_bf16_mixed_trains(attn: str, device: str):
    module = tiny_module(attn)
    before = [p.detach().clone() for p in module.parameters()]
    accelerator = "gpu" if device == "cuda" else "cpu"
    tr = trainer(
        max_steps=3, accelerator=accelerator, precision="bf16-mixed", callbacks=[NonFiniteGuard("stop")]
    )
    tr.fit(module, loader())
    assert tr.global_step == 3 and next(module.parameters()).dtype == torch.float32
    changed = [not torch.equal(a, b.cpu()) for a, b in zip(before, module.parameters(), strict=True)]
    assert sum(changed) > len(changed) // 2
    assert torch.isfinite(tr.callback_metrics["train/loss"])


class GradAtStep(L.Callback):
    """The largest gradient L2 norm / max-abs value the optimizer stepped with (read just after each step)."""

    def __init__(self) -> None:
        self.norm, self.max_abs = 0.0, 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        def record(optimizer: torch.optim.Optimizer, *_: object) -> None:
            grads = [
                p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None
            ]
            self.norm = max(self.norm, torch.nn.utils.get_total_norm(grads).item())
            self.max_abs = max(self.max_abs, max(g.abs().max().item() for g in grads))

        trainer.optimizers[0].register_step_post_hook(record)


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_gradient_clipping_takes_effect(algorithm: str):
    clip = 1e-3
    free, clipped = GradAtStep(), GradAtStep()
    trainer(max_steps=2, callbacks=[free]).fit(tiny_module(), loader())
    trainer(max_steps=2, callbacks=[clipped], gradient_clip_val=clip, gradient_clip_algorithm=algorithm).fit(
        tiny_module(), loader()
    )
    measure = "norm" if algorithm == "norm" else "max_abs"
    assert getattr(free, measure) > 10 * clip
    assert getattr(clipped, measure) <= clip * (1 + 1e-5)
